"""Where the real recordings are read from (never copied into the project).

`ASI_RECORDINGS_DIR` wins; otherwise the shared folder beside the checkout
(`../shared/data/recordings/`), then the workplace's own copy at `/work/shared/`, so a clone made
elsewhere (CI clones into a temporary folder) still finds them. Tests that need them skip, saying
where they looked, when none of these exists.
"""

import os
from pathlib import Path

_CANDIDATES = [
    Path(__file__).resolve().parents[2] / "shared" / "data" / "recordings",
    Path("/work/shared/data/recordings"),
]


def _recordings_dir() -> Path:
    if "ASI_RECORDINGS_DIR" in os.environ:
        return Path(os.environ["ASI_RECORDINGS_DIR"])
    return next((path for path in _CANDIDATES if path.is_dir()), _CANDIDATES[0])


RECORDINGS = _recordings_dir()
