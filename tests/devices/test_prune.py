"""Partitions made ahead of time, and retention by partition (`manage.py prune_samples`)."""

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from asi_api.scheduling import registered_jobs, run_job
from devices.ingestion import packets_ingest
from devices.samples import (
    TABLE,
    month_start_ms,
    partition_name,
    partitions_ensure,
    partitions_list,
)
from tests.devices.packets_factory import packet, stored_samples

pytestmark = pytest.mark.django_db

VEST = "a1b2c3d4e5f6"


def ms(*args) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


def names() -> set[str]:
    return {p.name for p in partitions_list()}


def test_migrate_creates_this_month_and_the_next_partition():
    now = datetime.now(UTC)
    assert partition_name(now.year, now.month) in names()
    assert f"{TABLE}_default" in names()


def test_the_periodic_job_creates_partitions_ahead():
    assert "devices.jobs.sample_partitions_ensure" in {job.name for job in registered_jobs()}

    run_job("devices.jobs.sample_partitions_ensure")

    now = datetime.now(UTC)
    year, month = (now.year + 1, now.month - 10) if now.month > 10 else (now.year, now.month + 2)
    assert partition_name(year, month) in names()


def test_ensuring_is_idempotent_and_moves_rows_out_of_default(make_owned_device):
    make_owned_device(VEST)
    # An old backfill lands in the DEFAULT partition...
    packets_ingest(body={"packets": [packet(VEST, ms(2021, 3, 5, 12))]})
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {TABLE}_default")
        assert cursor.fetchone()[0] == 3

    # ...and moves into its month's partition when that is created.
    created = partitions_ensure(months_ahead=0, now=datetime(2021, 3, 20, tzinfo=UTC))

    assert created == [partition_name(2021, 3)]
    assert partitions_ensure(months_ahead=0, now=datetime(2021, 3, 20, tzinfo=UTC)) == []
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {TABLE}_default")
        assert cursor.fetchone()[0] == 0
        cursor.execute(f"SELECT count(*) FROM {partition_name(2021, 3)}")
        assert cursor.fetchone()[0] == 3
    assert stored_samples() == 12


@pytest.fixture
def history(make_owned_device):
    """Samples in January, February and March 2021 (own partitions) and 2019 (DEFAULT)."""
    make_owned_device(VEST)
    for month in (1, 2, 3):
        partitions_ensure(months_ahead=0, now=datetime(2021, month, 1, tzinfo=UTC))
    stamps = [ms(2019, 6, 1), ms(2021, 1, 10), ms(2021, 2, 10), ms(2021, 3, 1), ms(2021, 3, 20)]
    packets_ingest(body={"packets": [packet(VEST, t) for t in stamps]})
    return stamps


def prune(*args: str) -> str:
    out = StringIO()
    call_command("prune_samples", *args, "--no-progress", stdout=out)
    return out.getvalue()


def test_prune_drops_whole_partitions_and_deletes_the_partial_one(history):
    output = prune("--before", "2021-03-10")

    assert partition_name(2021, 1) not in names()
    assert partition_name(2021, 2) not in names()
    assert partition_name(2021, 3) in names()
    assert "Removed 48 samples" in output
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT t_first FROM {TABLE} WHERE channel_id = (SELECT id FROM devices_samplechannel WHERE name = 'ecg')"
        )
        assert [t for (t,) in cursor.fetchall()] == [history[-1]]


def test_prune_dry_run_changes_nothing(history):
    before = stored_samples()

    output = prune("--before", "2021-03-10", "--dry-run")

    assert "Would remove 48 samples" in output
    assert stored_samples() == before
    assert partition_name(2021, 1) in names()


def test_prune_refuses_a_malformed_date():
    with pytest.raises(CommandError):
        prune("--before", "10/03/2021")


def test_month_bounds_are_utc_epoch_milliseconds():
    assert month_start_ms(2021, 1) == 1609459200000
