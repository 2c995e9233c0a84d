"""The hostile-input tests again on SQLite, the embedded mode's database, where the faults were
different: SQLite stored NUL characters and lone surrogates (every later read of the row was a
500), and overflowed on ids beyond 64 bits and on datetimes outside years 1–9999 in UTC, where
PostgreSQL compared them quietly.

They run in a pytest subprocess with the environment of `make run` (no DATABASE_URL/REDIS_URL).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MODULES = ["test_hostile_filters.py", "test_hostile_strings.py", "test_hostile_json.py"]
# The parser and the query-string check answer before any query: on SQLite, one kind of body
# per endpoint and the managers example are enough to see that nothing gets through.
SELECTION = "not (every_json_endpoint and not surrogate) and not every_query_parameter"

pytestmark = pytest.mark.e2e  # starts a pytest process


def test_the_hostile_input_tests_pass_on_sqlite(tmp_path):
    if connection.vendor == "sqlite":
        pytest.skip("this run is on SQLite already")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(SQLITE_PATH=str(tmp_path / "hostile.sqlite3"), SECRET_KEY="sqlite", DEBUG="false")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", SELECTION]
        + [str(HERE / module) for module in MODULES],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary, summary
