"""Services and selectors of timeframes, below the HTTP layer."""

import pytest
from django.db import IntegrityError, connection, transaction

from asi_api.errors import Conflict, RuleViolation
from tests.conftest import MATCH_END, MATCH_START
from timeframes import services
from timeframes.models import Timeframe
from timeframes.selectors import timeframes_computed_readable_by, timeframes_visible_to
from users.models import AthleteProfile, PermissionKind

from .conftest import HOUR

pytestmark = pytest.mark.django_db


def test_the_database_refuses_overlapping_timeframes_on_a_device(evening):
    assert connection.vendor == "postgresql"  # the suite runs on the real stack
    clone = Timeframe(
        start_time=MATCH_START + HOUR,
        end_time=MATCH_END + HOUR,
        device=evening.device,
        activity=evening.activity,
        athlete=evening.athlete,
        owner=evening.owner,
        json_schema=evening.json_schema,
    )
    with pytest.raises(IntegrityError, match="timeframe_device_no_overlap"), transaction.atomic():
        clone.save()
    # Adjacent windows do not overlap: [20:00, 22:00) then [22:00, 23:00).
    clone.start_time, clone.end_time = MATCH_END, MATCH_END + HOUR
    clone.save()


def test_it_answers_409_when_a_racing_writer_got_there_first(
    evening, alice, carol, band, match, monkeypatch
):
    # The racing writer passed the overlap check before ours committed: ours then passes the
    # check too (simulated by hiding the committed row from it), and the constraint decides.
    monkeypatch.setattr(services, "timeframes_overlapping", lambda **_: Timeframe.objects.none())
    with pytest.raises(Conflict, match=f"Device {band.pk} is already in another timeframe"):
        services.timeframe_create(
            actor=alice, start_time=MATCH_START, end_time=MATCH_END, device=band,
            activity=match, athlete=carol,
        )  # fmt: skip
    assert Timeframe.objects.count() == 1


def test_computed_data_is_readable_by_readers_not_by_mere_owners(
    evening, admin, alice, trent, mallory, carol, bob, grant
):
    def readers() -> set[str]:
        users = (admin, alice, trent, mallory, carol, bob)
        return {
            u.username for u in users if timeframes_computed_readable_by(u).filter(pk=evening.pk)
        }

    assert readers() == {"root", "alice", "carol"}  # alice holds READ for 2020
    carol.permissions_given.filter(manager=alice, permission=PermissionKind.READ).delete()
    assert readers() == {"root", "carol"}  # WRITE lets alice schedule, not read
    assert timeframes_visible_to(alice).filter(pk=evening.pk).exists()  # she still sees it
    grant(carol, trent, PermissionKind.READ, MATCH_START, MATCH_END)
    assert readers() == {"root", "carol", "trent"}
    AthleteProfile.objects.filter(user=carol).update(managed_by=mallory)
    assert readers() == {"root", "carol", "trent", "mallory"}


def test_only_the_owner_or_an_admin_may_delete(evening, trent, carol, admin, emitted):
    for user in (trent, carol):
        with pytest.raises(RuleViolation):
            services.timeframe_delete(actor=user, timeframe=evening)
    services.timeframe_delete(actor=admin, timeframe=evening)
    assert [e.name for e in emitted] == ["timeframe-deleted"]


def test_moving_a_timeframe_to_another_activity_tells_both(
    evening, alice, match, make_activity, emitted
):
    other = make_activity("Replay")
    services.timeframe_update(actor=alice, timeframe=evening, activity=other)

    assert [(e.name, e.activity_id) for e in emitted] == [
        ("timeframe-updated", other.pk),
        ("timeframe-updated", match.pk),
    ]
