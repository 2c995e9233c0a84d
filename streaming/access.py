"""Who may open which stream, and who still may (SPEC §8): sync ORM code for the consumers.

Every answer comes from the selectors that decide REST access — `devices.selectors`,
`activities.selectors.activities_visible_to`, `timeframes.selectors` and
`users.selectors.manager_can_read_at` — never from a copy of their rules. The consumers run
these functions through `database_sync_to_async` (`streaming.consumers.db`).

Close codes: 4004 when the caller cannot see the object over REST (unknown and other people's
objects alike: existence is not leaked), 4003 when he sees it but may not stream it. While a
stream runs, losing access is 4003 whatever the reason (SPEC §8), and an object that is gone
altogether is 4004.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from django.utils import timezone
from oauth2_provider.models import AccessToken, get_access_token_model

from activities.models import Activity
from activities.selectors import activities_visible_to
from analytics.serializers import timeframe_document
from devices.models import Device
from devices.selectors import device_current_ownership, devices_visible_to
from timeframes.models import Timeframe
from timeframes.selectors import timeframes_computed_readable_by, timeframes_visible_to
from users.models import User
from users.oauth import ALL
from users.selectors import manager_can_read_at

OK = 0
UNAUTHORIZED = 4001
FORBIDDEN = 4003
NOT_FOUND = 4004

T = TypeVar("T")


# --- tokens ----------------------------------------------------------------------------------


def token_authenticate(raw: str) -> AccessToken | None:
    """The live access token `raw` of a manager or admin, with scope `all`; else None.

    DOT's own model and checks (`is_valid`: not expired, scopes): a revoked token is deleted by
    DOT, so it is simply not found. A gateway's `ingest` token, an athlete's token and a
    deactivated user's token are all refused alike (4001).
    """
    checksum = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()
    token = (
        get_access_token_model()
        .objects.select_related("user")
        .filter(token_checksum=checksum)
        .first()
    )
    if token is None or not token.is_valid([ALL]):
        return None
    user = token.user
    if user is None or not user.is_active or not (user.is_manager or user.is_admin):
        return None
    return token


def tokens_live(token_ids: set[int], now: datetime | None = None) -> set[int]:
    """Which of `token_ids` still exist (not revoked) and have not expired: one query."""
    now = now or timezone.now()
    return set(
        get_access_token_model()
        .objects.filter(pk__in=token_ids, expires__gt=now)
        .values_list("pk", flat=True)
    )


# --- per-tick memo -----------------------------------------------------------------------------


@dataclass
class Memo:
    """Answers shared by the streams checked in one pass (many sockets of one manager, or many
    managers on one device, cost one query each)."""

    now: datetime = field(default_factory=timezone.now)
    answers: dict[tuple, object] = field(default_factory=dict)

    def get(self, key: tuple, compute: Callable[[], T]) -> T:
        if key not in self.answers:
            self.answers[key] = compute()
        return self.answers[key]


def _reads_now(user: User, athlete_id: int, memo: Memo) -> bool:
    """SPEC §3: live streaming needs READ covering *now* (admins need nothing)."""
    if user.is_admin:
        return True
    return memo.get(
        ("reads-now", user.pk, athlete_id),
        lambda: manager_can_read_at(manager=user, athlete_id=athlete_id, at=memo.now),
    )


# --- preprocessed stream -------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceStream:
    device_id: int
    device_name: str
    # The streaming manager's current ownership (None for admins): the stream ends with it, and
    # nothing recorded before it began is his to see (SPEC §4).
    ownership_id: int | None
    since_ms: int | None  # samples before this are not the caller's


def device_stream_open(user: User, device_id: int) -> DeviceStream | int:
    """`/ws/v1/preprocessed-data/{device}/`: its current owner and admins (SPEC §8).

    4004 when the device is not among those the caller sees over REST
    (`devices_visible_to`); 4003 for a device he sees (owned it before) but does not own now.
    """
    device = devices_visible_to(user).filter(pk=device_id).first()
    if device is None:
        return NOT_FOUND
    if user.is_admin:
        return DeviceStream(device.pk, device.device_name, None, None)
    ownership = device_current_ownership(device_id=device.pk)
    if ownership is None or ownership.manager_id != user.pk:
        return FORBIDDEN
    start_ms = int(ownership.start_time.timestamp() * 1000)
    return DeviceStream(device.pk, device.device_name, ownership.pk, start_ms)


def device_stream_check(user: User, stream: DeviceStream, memo: Memo) -> int:
    """OK while the stream may go on: the same ownership still current (4003 once it ended or
    changed hands; 4004 when the device was deleted)."""
    if stream.ownership_id is None:
        alive = memo.get(
            ("device", stream.device_id),
            lambda: Device.objects.filter(pk=stream.device_id).exists(),
        )
        return OK if alive else NOT_FOUND
    current = memo.get(
        ("ownership", stream.device_id),
        lambda: device_current_ownership(device_id=stream.device_id),
    )
    if current is not None and current.pk == stream.ownership_id:
        return OK
    alive = memo.get(
        ("device", stream.device_id), lambda: Device.objects.filter(pk=stream.device_id).exists()
    )
    return FORBIDDEN if alive else NOT_FOUND


# --- computed streams ----------------------------------------------------------------------------


def _timeframes_with_documents(user: User, **filters) -> list[Timeframe]:
    # What `timeframe_document` reads: the stored object, else what `computed_empty` needs.
    return list(
        timeframes_computed_readable_by(user)
        .filter(**filters)
        .select_related("activity", "computed", "athlete__athlete_profile")
        .defer("computed__state")
        .order_by("start_time", "id")
    )


@dataclass(frozen=True)
class Snapshot:
    """A timeframe's current computed object, with what orders it (SPEC §8 ordering key)."""

    timeframe_id: int
    start_ms: int
    document: dict


def snapshot_of(timeframe: Timeframe) -> Snapshot:
    return Snapshot(
        timeframe_id=timeframe.pk,
        start_ms=int(timeframe.start_time.timestamp() * 1000),
        document=timeframe_document(timeframe),
    )


def timeframe_stream_open(user: User, activity_id: int, timeframe_id: int) -> int:
    """`/ws/v1/computed-data/{activity}/{timeframe}/`: whoever may read the timeframe's computed
    data (SPEC §7) while his READ covers now, and admins. OK, or the close code.

    4004 when the caller does not see the activity, or the timeframe, or it is not in that
    activity; 4003 for a timeframe he sees (e.g. he owns it with WRITE only) but may not read.
    """
    if not activities_visible_to(user).filter(pk=activity_id).exists():
        return NOT_FOUND
    timeframe = timeframes_visible_to(user).filter(pk=timeframe_id, activity_id=activity_id)
    if not timeframe.exists():
        return NOT_FOUND
    if timeframe_id not in activity_streamable_ids(user, None, Memo(), timeframe_id=timeframe_id):
        return FORBIDDEN
    return OK


def timeframe_stream_check(user: User, timeframe_id: int, memo: Memo) -> int:
    """OK while the caller may still stream the timeframe; 4003 once READ ended or was revoked
    (or it moved out of his READ window), 4004 once the timeframe is gone."""
    streamable = activity_streamable_ids(user, None, memo, timeframe_id=timeframe_id)
    if timeframe_id in streamable:
        return OK
    alive = memo.get(
        ("timeframe", timeframe_id), lambda: Timeframe.objects.filter(pk=timeframe_id).exists()
    )
    return FORBIDDEN if alive else NOT_FOUND


def activity_streamable_ids(
    user: User, activity_id: int | None, memo: Memo, *, timeframe_id: int | None = None
) -> set[int]:
    """Ids of the activity's timeframes (or of the one timeframe) `user` may stream now."""
    filters = {"activity_id": activity_id} if timeframe_id is None else {"pk": timeframe_id}

    def compute() -> set[int]:
        readable = timeframes_computed_readable_by(user).filter(**filters)
        return {
            pk
            for pk, athlete_id in readable.values_list("pk", "athlete_id")
            if _reads_now(user, athlete_id, memo)
        }

    return memo.get(("streamable", user.pk, tuple(sorted(filters.items()))), compute)


def timeframes_streamable_prefetch(memo: Memo, wanted: dict[int, tuple[User, set[int]]]) -> None:
    """Answer `activity_streamable_ids(user, None, memo, timeframe_id=t)` for every
    (user, t) of `wanted` (user id → (user, timeframe ids)) with one query per user: the same
    selector, filtered on all of his timeframes at once instead of one query per timeframe
    stream on each watch pass."""
    for user, ids in wanted.values():
        keys = {t: ("streamable", user.pk, (("pk", t),)) for t in ids}
        missing = [t for t, key in keys.items() if key not in memo.answers]
        if len(missing) < 2:
            continue
        readable = timeframes_computed_readable_by(user).filter(pk__in=missing)
        streamable = {
            pk
            for pk, athlete_id in readable.values_list("pk", "athlete_id")
            if _reads_now(user, athlete_id, memo)
        }
        for t in missing:
            memo.answers[keys[t]] = {t} & streamable


def activity_stream_open(user: User, activity_id: int) -> set[int] | int:
    """`/ws/v1/computed-data/{activity}/`: managers who see the activity (SPEC §5) and may
    stream every one of its existing timeframes; admins. Their ids, or the close code.

    4004 when the caller does not see the activity; 4003 when he sees it but one of its
    timeframes is not his to stream (timeframes created later that he may not read are
    skipped instead).
    """
    if not activities_visible_to(user).filter(pk=activity_id).exists():
        return NOT_FOUND
    every = set(Timeframe.objects.filter(activity_id=activity_id).values_list("pk", flat=True))
    streamable = activity_streamable_ids(user, activity_id, Memo())
    if every - streamable:
        return FORBIDDEN
    return streamable


def activity_stream_check(
    user: User, activity_id: int, memo: Memo
) -> tuple[set[int], set[int]] | int:
    """(the activity's timeframes the caller may stream now, all its timeframes); 4003 once he
    no longer sees the activity (READ on its timeframes ended or revoked), 4004 once it is gone."""
    visible = memo.get(
        ("activity-visible", user.pk, activity_id),
        lambda: activities_visible_to(user).filter(pk=activity_id).exists(),
    )
    if not visible:
        return FORBIDDEN if Activity.objects.filter(pk=activity_id).exists() else NOT_FOUND
    every = memo.get(
        ("activity-timeframes", activity_id),
        lambda: set(Timeframe.objects.filter(activity_id=activity_id).values_list("pk", flat=True)),
    )
    return activity_streamable_ids(user, activity_id, memo), every


def timeframes_snapshots(user: User, ids: set[int]) -> list[Snapshot]:
    """Snapshots of the timeframes `ids` whose computed data `user` may read, by start time.

    Read after the stream joined its group (`streaming.groups`: join before reading), so an
    update committed meanwhile is either in the snapshot or on its way to the stream (the
    consumer drops a revision it already sent).
    """
    if not ids:
        return []
    return [snapshot_of(timeframe) for timeframe in _timeframes_with_documents(user, pk__in=ids)]
