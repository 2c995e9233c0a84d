"""`manage.py devices_import`: bulk creation from CSV, all or nothing, with clear errors."""

import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from devices.models import Device

pytestmark = pytest.mark.django_db


def run(path: Path, *args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("devices_import", str(path), "--no-progress", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_imports_every_device_of_a_file(tmp_path):
    csv = tmp_path / "devices.csv"
    csv.write_text(
        "device_name,serial_number,custom_name\n"
        "0123456789ab,ASI-1,Left vest\n"
        "\n"
        "0123456789ac,ASI-2\n"
        '0123456789ad,ASI-3,"Vest, spare"\n'
    )
    out, _ = run(csv)
    assert "3 device(s) created" in out
    assert list(Device.objects.order_by("device_name").values_list("custom_name", flat=True)) == [
        "Left vest",
        "",
        "Vest, spare",
    ]
    assert not Device.objects.filter(is_active=True).exists()


def test_it_accepts_a_file_without_header(tmp_path):
    csv = tmp_path / "devices.csv"
    csv.write_text("0123456789ab,ASI-1\n")
    run(csv)
    assert Device.objects.get().serial_number == "ASI-1"


def test_it_creates_nothing_and_names_every_bad_line(tmp_path, make_device):
    make_device(device_name="aaaaaaaaaaaa", serial_number="TAKEN")
    csv = tmp_path / "devices.csv"
    csv.write_text(
        "device_name,serial_number\n"
        "0123456789ab,ASI-1\n"  # line 2: fine
        "0123456789AB,ASI-2\n"  # line 3: uppercase
        "0123456789ac,TAKEN\n"  # line 4: serial exists
        "0123456789ab,ASI-5\n"  # line 5: duplicate of line 2
        "0123456789ad\n"  # line 6: one column
    )
    with pytest.raises(CommandError, match="4 problem"):
        run(csv)
    assert Device.objects.count() == 1


def test_it_reports_bad_lines_on_stderr_with_exit_status_1(tmp_path, make_device):
    csv = tmp_path / "devices.csv"
    csv.write_text("0123456789ab,ASI-1\nnot-hex,ASI-2\n")
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("devices_import", str(csv), "--no-progress", stderr=err)
    assert "line 2: device_name" in err.getvalue()


def test_it_checks_without_creating_on_dry_run(tmp_path):
    csv = tmp_path / "devices.csv"
    csv.write_text("0123456789ab,ASI-1\n")
    out, _ = run(csv, "--dry-run")
    assert "1 device(s) would be created" in out
    assert not Device.objects.exists()


@pytest.mark.parametrize("content", ["", "device_name,serial_number\n"])
def test_it_refuses_a_file_without_devices(tmp_path, content):
    csv = tmp_path / "devices.csv"
    csv.write_text(content)
    with pytest.raises(CommandError, match="no device"):
        run(csv)


def test_it_refuses_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        run(tmp_path / "nope.csv")


@pytest.mark.e2e  # starts manage.py processes
def test_it_exits_with_status_1_and_documents_itself(tmp_path):
    manage = Path(__file__).resolve().parents[2] / "manage.py"
    bad = tmp_path / "bad.csv"
    bad.write_text("nope\n")
    # --help needs no database.
    helped = subprocess.run(
        [sys.executable, str(manage), "devices_import", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert helped.returncode == 0
    assert "device_name,serial_number[,custom_name]" in helped.stdout
    failed = subprocess.run(
        [sys.executable, str(manage), "devices_import", str(tmp_path / "missing.csv")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert failed.returncode == 1
    assert "No such file" in failed.stderr
