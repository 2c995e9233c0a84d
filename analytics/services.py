"""Writes of the analytics app: computing and storing a timeframe's SPEC §7 document.

The engine is `analytics.metrics` (pure numpy); this module feeds it what a timeframe names —
its device's samples in [start_time, end_time), the athlete's profile, the activity's sport, the
timeframe's params — and stores the result in `ComputedData`.
"""

from datetime import UTC, datetime, timedelta

import numpy as np
from django.db import transaction
from django.utils import timezone

from analytics.metrics import Athlete, computed_document, metrics_compute, params_effective
from analytics.models import ComputedData
from devices.samples import samples_read
from timeframes.models import Timeframe

# The fields of a stored document that say how it was made, not what was measured.
HEAD_FIELDS = ("status", "revision", "computed_at")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def timeframe_params(timeframe: Timeframe) -> dict:
    """The effective params of `timeframe`: defaults, its activity's sport profile, its own."""
    sport = (
        timeframe.activity.json.get("sport") if isinstance(timeframe.activity.json, dict) else None
    )
    return params_effective(timeframe.params, sport)


def timeframe_athlete(timeframe: Timeframe) -> Athlete:
    """The profile values the metrics use; an athlete without a profile has none of them."""
    profile = getattr(timeframe.athlete, "athlete_profile", None)
    if profile is None:
        return Athlete()
    return Athlete(
        max_heart_rate=profile.max_heart_rate,
        resting_heart_rate=profile.resting_heart_rate,
        gender=profile.gender or None,
        birth_date=profile.birth_date,
    )


def timeframe_metrics(timeframe: Timeframe) -> dict:
    """The SPEC §7 metrics of `timeframe` from its stored samples, in one read.

    Only the samples of its device within [start_time, end_time) are read: the timeframe's owner
    owned the device over that whole span (a rule of `timeframes.services`), so these are
    exactly the samples recorded while he owned it (SPEC §4).
    """
    start, end = _ms(timeframe.start_time), _ms(timeframe.end_time)
    frame = samples_read(device_id=timeframe.device_id, start=start, stop=end)
    samples: dict = {}
    if "gnss" in frame.channels:
        ts, fields = frame.channels["gnss"]
        if "latitude" in fields and "longitude" in fields:
            samples |= {"ts": ts, "latitude": fields["latitude"], "longitude": fields["longitude"]}
            samples["speed"] = fields.get("speed")
    if "ecg" in frame.channels:
        ts, fields = frame.channels["ecg"]
        if "hr" in fields:
            samples |= {"hr_ts": ts, "hr": fields["hr"]}
    return metrics_compute(
        params=timeframe_params(timeframe),
        start_ms=start,
        end_ms=end,
        athlete=timeframe_athlete(timeframe),
        **samples,
    )


def computed_empty(timeframe: Timeframe) -> dict:
    """The document of a timeframe not computed yet: every metric present with zero, empty or
    null values (SPEC §7), `status` "live", `revision` 0 and `computed_at` null."""
    metrics = metrics_compute(
        params=timeframe_params(timeframe),
        start_ms=_ms(timeframe.start_time),
        end_ms=_ms(timeframe.end_time),
        athlete=timeframe_athlete(timeframe),
        ts=np.zeros(0, dtype=np.int64),
    )
    return computed_document(metrics, status=ComputedData.Status.LIVE, revision=0, computed_at=None)


def _measured(document: dict) -> dict:
    return {key: value for key, value in document.items() if key not in HEAD_FIELDS}


def timeframe_recompute(*, timeframe_id: int, now: datetime | None = None) -> ComputedData | None:
    """Compute `timeframe_id` from its stored samples and store the result; None if it is gone.

    Status `final` once the timeframe has ended (`end_time` ≤ now), `live` before. Idempotent:
    when neither the metrics nor the status changed, nothing is written and `revision` stays;
    otherwise `revision` grows by one. The samples are read under the row lock of the
    `ComputedData`, so of two concurrent recomputes the later one stores what it read last —
    an older read can never overwrite a newer one. A full recompute supersedes the live state
    (`state` None, `dirty` False); a live result is due again at `end_time`, for the sweep that
    finalises it.
    """
    now = now or timezone.now()
    with transaction.atomic():
        if not Timeframe.objects.filter(pk=timeframe_id).exists():
            return None
        # Two first computations of a timeframe race to insert the row: get_or_create's loser
        # re-reads it (in a savepoint). Then the lock serialises read-compute-store.
        ComputedData.objects.get_or_create(timeframe_id=timeframe_id)
        stored = ComputedData.objects.select_for_update().get(timeframe_id=timeframe_id)
        # Loaded under the lock: a concurrent change of the timeframe is either seen here or
        # followed by its own recompute (its event enqueues one after commit).
        timeframe = Timeframe.objects.select_related("activity", "athlete__athlete_profile").get(
            pk=timeframe_id
        )
        final = timeframe.end_time <= now
        status = ComputedData.Status.FINAL if final else ComputedData.Status.LIVE
        metrics = timeframe_metrics(timeframe)
        due = None if final else timeframe.end_time
        if stored.revision and stored.status == status and _measured(stored.data) == metrics:
            if stored.next_run_at != due:  # e.g. a sweep's lease on a timeframe since extended
                stored.next_run_at = due
                stored.save(update_fields=["next_run_at"])
            return stored
        stored.revision += 1
        stored.status = status
        stored.computed_at = now
        stored.data = computed_document(
            metrics, status=status, revision=stored.revision, computed_at=_iso(now)
        )
        stored.state = None
        stored.dirty = False
        stored.next_run_at = due
        stored.save()
    return stored


def computed_due_claim(
    *, now: datetime | None = None, lease: timedelta = timedelta(minutes=1), limit: int = 100
) -> list[int]:
    """Claim the timeframes whose `ComputedData` is due (`next_run_at` ≤ now) for a recompute.

    Each claimed row's `next_run_at` moves `lease` ahead in the same transaction, so a sweep
    running meanwhile (another beat tick, another process) skips it; the recompute then sets
    it to None (final) or to the timeframe's end, and a recompute that never ran is claimed
    again once the lease expires. Returns the claimed timeframe ids, most overdue first.
    """
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            ComputedData.objects.select_for_update(skip_locked=True)
            .filter(next_run_at__lte=now)
            .order_by("next_run_at")
            .values_list("pk", flat=True)[:limit]
        )
        ComputedData.objects.filter(pk__in=ids).update(next_run_at=now + lease)
    return ids
