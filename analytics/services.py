"""Writes of the analytics app: computing and storing a timeframe's SPEC §7 document.

The engine is `analytics.metrics` (pure numpy); this module feeds it what a timeframe names —
its device's samples in [start_time, end_time), the athlete's profile, the activity's sport, the
timeframe's params — and stores the result in `ComputedData`.
"""

import hashlib
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import orjson
from django.db import transaction
from django.utils import timezone

from analytics.metrics import (
    LATE_MS,
    METRIC_VERSION,
    Athlete,
    MetricsState,
    computed_document,
    metrics_compute,
    params_effective,
)
from analytics.models import ComputedData
from analytics.publish import ComputedStored, computed_stored_on_commit
from devices.samples import SampleFrame, samples_read
from timeframes.models import Timeframe

# The fields of a stored document that say how it was made, not what was measured.
HEAD_FIELDS = ("status", "revision", "computed_at")
# The live path (ARCHITECTURE.md): at most one stored change per timeframe per LIVE_INTERVAL;
# late data recomputes a timeframe at most once per DIRTY_INTERVAL.
LIVE_INTERVAL = timedelta(seconds=1)
NUMPY = orjson.OPT_SERIALIZE_NUMPY
DIRTY_INTERVAL = timedelta(seconds=10)


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


def _engine_input(frame: SampleFrame, after: int | None = None) -> dict:
    """The engine's arrays from stored samples (GNSS fixes, heart rates); only samples newer
    than `after` (epoch ms) when given."""
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
    if after is not None:
        for times, names in (("ts", ("latitude", "longitude", "speed")), ("hr_ts", ("hr",))):
            if times in samples:
                newer = samples[times] > after
                for key in (times, *names):
                    if samples.get(key) is not None:
                        samples[key] = samples[key][newer]
    return samples


def _state_new(timeframe: Timeframe) -> MetricsState:
    return MetricsState(
        timeframe_params(timeframe),
        start_ms=_ms(timeframe.start_time),
        end_ms=_ms(timeframe.end_time),
        athlete=timeframe_athlete(timeframe),
    )


def timeframe_metrics(timeframe: Timeframe, state: MetricsState | None = None) -> dict:
    """The SPEC §7 metrics of `timeframe` from its stored samples, in one read (absorbed into
    `state`, a fresh `_state_new(timeframe)`, when given).

    Only the samples of its device within [start_time, end_time) are read: the timeframe's owner
    owned the device over that whole span (a rule of `timeframes.services`), so these are
    exactly the samples recorded while he owned it (SPEC §4).
    """
    state = state or _state_new(timeframe)
    frame = samples_read(device_id=timeframe.device_id, start=state.start, stop=state.end)
    state.update(**_engine_input(frame))
    return state.result()


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


def _locked(timeframe_id: int) -> tuple[ComputedData, Timeframe] | None:
    """The timeframe's `ComputedData` row, locked (created if missing), and the timeframe read
    under that lock; None if the timeframe is gone. Call inside `transaction.atomic`."""
    if not Timeframe.objects.filter(pk=timeframe_id).exists():
        return None
    # INSERT … ON CONFLICT DO NOTHING: of two first computations racing to insert the row, the
    # loser's insert does nothing, and nothing reads the row before the locking read. Then the
    # lock serialises read-compute-store.
    ComputedData.objects.bulk_create(
        [ComputedData(timeframe_id=timeframe_id)], ignore_conflicts=True
    )
    # `data` is loaded only if a comparison needs it (the live path compares digests).
    stored = ComputedData.objects.select_for_update().defer("data").get(timeframe_id=timeframe_id)
    # Loaded under the lock: a concurrent change of the timeframe is either seen here or
    # followed by its own recompute (its event enqueues one after commit).
    timeframe = Timeframe.objects.select_related("activity", "athlete__athlete_profile").get(
        pk=timeframe_id
    )
    return stored, timeframe


def _digest(metrics: dict) -> str:
    return hashlib.blake2b(orjson.dumps(metrics, option=NUMPY), digest_size=16).hexdigest()


def _state_dump(state: MetricsState, digest: str) -> bytes:
    """The stored form of the live state: its plain values and the digest of the metrics
    stored with it (so a live update knows "unchanged" without loading the document), as
    compressed JSON bytes."""
    # zlib level 1: ~1 ms for ~125 KiB → ~30 KiB at minute 90, and PostgreSQL's own TOAST
    # compression (pglz, ~4 ms here) then finds nothing to do.
    blob = orjson.dumps({"engine": state.to_dict(), "digest": digest}, option=NUMPY)
    return zlib.compress(blob, 1)


def _state_load(stored: ComputedData) -> tuple[dict | None, str | None]:
    if not stored.state:
        return None, None
    blob = orjson.loads(zlib.decompress(stored.state))
    return blob["engine"], blob["digest"]


def _store(
    stored: ComputedData,
    timeframe: Timeframe,
    metrics: dict,
    *,
    status: str,
    now: datetime,
    digest: str | None = None,
    last_digest: str | None = None,
) -> bool:
    """Put `metrics` into the row (not saved yet) unless nothing changed; True if changed.

    "Unchanged" compares `digest` with `last_digest` when both are given (the live path),
    else the stored document. A change bumps `revision` and is handed to
    `computed_stored_subscribe`rs after commit.
    """
    same_head = stored.revision and stored.status == status
    if digest is not None and last_digest is not None:
        if same_head and digest == last_digest:
            return False
    elif same_head and _measured(stored.data) == metrics:
        return False
    stored.revision += 1
    stored.status = status
    stored.computed_at = now
    stored.data = computed_document(
        metrics, status=status, revision=stored.revision, computed_at=_iso(now)
    )
    computed_stored_on_commit(
        ComputedStored(
            timeframe_id=timeframe.pk, activity_id=timeframe.activity_id, document=stored.data
        )
    )
    return True


def _next_run(stored: ComputedData, timeframe: Timeframe, now: datetime) -> datetime | None:
    """When the sweep should look at the row next: the end of a live timeframe (finalisation),
    the next allowed dirty recompute, a coalesced live update; None when nothing is due."""
    due = []
    if stored.status == ComputedData.Status.LIVE:
        due.append(timeframe.end_time)
    if stored.dirty:
        due.append(stored.recomputed_at + DIRTY_INTERVAL if stored.recomputed_at else now)
    if stored.pending_from is not None:
        due.append(stored.computed_at + LIVE_INTERVAL if stored.computed_at else now)
    return min(due) if due else None


def _recompute_locked(stored: ComputedData, timeframe: Timeframe, now: datetime) -> bool:
    """The full recompute of a locked row (saved); True if the document changed. A live
    result keeps the engine state it was computed with, so live updates continue from it."""
    final = timeframe.end_time <= now
    status = ComputedData.Status.FINAL if final else ComputedData.Status.LIVE
    state = _state_new(timeframe)
    metrics = timeframe_metrics(timeframe, state)
    changed = _store(stored, timeframe, metrics, status=status, now=now)
    stored.state = None if final else _state_dump(state, _digest(metrics))
    stored.dirty = False
    stored.pending_from = None
    stored.recomputed_at = now
    stored.next_run_at = _next_run(stored, timeframe, now)
    stored.save()
    return changed


def timeframe_recompute(*, timeframe_id: int, now: datetime | None = None) -> ComputedData | None:
    """Compute `timeframe_id` from its stored samples and store the result; None if it is gone.

    Status `final` once the timeframe has ended (`end_time` ≤ now), `live` before. Idempotent:
    when neither the metrics nor the status changed, the document, `revision` and
    `computed_at` stay (and nothing is published); otherwise `revision` grows by one. The
    samples are read under the row lock of the `ComputedData`, so of two concurrent recomputes
    the later one stores what it read last — an older read can never overwrite a newer one. A
    full recompute supersedes the live path's bookkeeping (`dirty`, `pending_from`) and, while
    the timeframe is live, leaves the engine state for the next live update; a live result is
    due again at `end_time`, for the sweep that finalises it.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked(timeframe_id)
        if locked is None:
            return None
        stored, timeframe = locked
        _recompute_locked(stored, timeframe, now)
    return stored


@dataclass(frozen=True)
class LiveOutcome:
    """What `timeframe_live_update` did: `action` is "update" (incremental), "recompute"
    (full), or "wait" (coalesced or late: the row is due at `stored.next_run_at`); `changed`
    whether a new revision was stored; `follow_up` seconds after which the caller should run
    the update again (a coalesced update the sweep would otherwise do late), else None."""

    stored: ComputedData
    action: str
    changed: bool = False
    follow_up: float | None = None


def _state_fitting(
    stored: ComputedData, timeframe: Timeframe
) -> tuple[MetricsState | None, str | None]:
    """The stored engine state and the digest of its metrics, if it was made for what the
    timeframe is now (params, window, athlete profile, metric version); else (None, None):
    rebuild it from storage."""
    engine, digest = _state_load(stored)
    if engine is None or engine.get("version") != METRIC_VERSION:
        return None, None
    state = MetricsState.from_dict(engine)
    fresh = _state_new(timeframe)
    if (state.params, state.start, state.end, state.athlete) != (
        fresh.params,
        fresh.start,
        fresh.end,
        fresh.athlete,
    ):
        return None, None
    return state, digest


def timeframe_live_update(
    *, timeframe_id: int, arrived_from: int | None = None, now: datetime | None = None
) -> LiveOutcome | None:
    """The live path of ARCHITECTURE.md's data flow, for one timeframe; None if it is gone.

    `arrived_from` (epoch ms): new samples of the timeframe's device from there on were
    committed (an ingest's `t_min`); None: a due row (the sweep, a coalesced update's
    follow-up). Under the row lock, in one transaction:

    - Samples at most `LATE_MS` behind the newest the state has absorbed merge: the update
      loads the stored engine state, reads only the samples from the earliest new one on
      (`pending_from`, at most `newest + 1`), absorbs them and stores document and state
      (cost ∝ the new samples). Older samples mark the row `dirty`: a full recompute follows,
      at most every `DIRTY_INTERVAL` (the sweep runs it), and meanwhile newer samples are still
      absorbed live.
    - At most one stored change per `LIVE_INTERVAL`: an update asked for sooner only records
      `pending_from` and is due at `computed_at + LIVE_INTERVAL` (`follow_up` says when).
    - A timeframe that has ended is recomputed from storage and becomes `final` (the
      finalisation); samples arriving for a `final` one make it dirty: recomputed, `revision`
      bumped, still `final`.
    - No stored state (the first samples) or one made for other params, window or profile:
      a full recompute, which leaves the state for the next update.

    Idempotent: samples already absorbed are duplicates the engine ignores, and an update
    that changes nothing stores no new revision.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked(timeframe_id)
        if locked is None:
            return None
        stored, timeframe = locked
        had_pending = stored.pending_from is not None
        ended = timeframe.end_time <= now
        state, digest = (None, None) if ended else _state_fitting(stored, timeframe)
        if arrived_from is not None:
            arrived_from = max(arrived_from, _ms(timeframe.start_time))
            _arrival_note(stored, state, arrived_from, ended=ended)
        wait = stored.computed_at is not None and now < stored.computed_at + LIVE_INTERVAL
        dirty_due = stored.dirty and (
            stored.recomputed_at is None or now >= stored.recomputed_at + DIRTY_INTERVAL
        )
        if ended and (stored.status == ComputedData.Status.LIVE or dirty_due):
            # Finalisation, or late data after it: not coalesced (it happens once, or every
            # DIRTY_INTERVAL at most).
            return LiveOutcome(stored, "recompute", _recompute_locked(stored, timeframe, now))
        if not ended and not wait and (state is None or dirty_due):
            return LiveOutcome(stored, "recompute", _recompute_locked(stored, timeframe, now))
        if ended or wait or stored.pending_from is None:
            if ended:
                stored.pending_from = None  # the (dirty) recompute reads everything
            stored.next_run_at = _next_run(stored, timeframe, now)
            stored.save(update_fields=["pending_from", "dirty", "next_run_at"])
            follow_up = None
            if (
                wait
                and stored.pending_from is not None
                and (arrived_from is None or not had_pending)
            ):
                follow_up = (stored.computed_at + LIVE_INTERVAL - now).total_seconds()
            return LiveOutcome(stored, "wait", follow_up=follow_up)
        changed = _absorb(stored, timeframe, state, digest, now)
        return LiveOutcome(stored, "update", changed)


def _arrival_note(
    stored: ComputedData, state: MetricsState | None, arrived_from: int, *, ended: bool
) -> None:
    """Record that samples from `arrived_from` on were committed: pending for the next live
    update, or, older than the state can merge, `dirty` (only samples after the state's newest
    are then left to the live update)."""
    if ended or stored.status == ComputedData.Status.FINAL:
        stored.dirty = stored.dirty or stored.status == ComputedData.Status.FINAL
        return
    newest = state.newest() if state is not None else None
    if newest is not None and arrived_from < newest - LATE_MS:
        stored.dirty = True
        arrived_from = newest + 1
    if stored.pending_from is None or arrived_from < stored.pending_from:
        stored.pending_from = arrived_from


def _absorb(
    stored: ComputedData,
    timeframe: Timeframe,
    state: MetricsState,
    last_digest: str | None,
    now: datetime,
) -> bool:
    """The incremental update of a locked row (saved); True if the document changed."""
    newest = state.newest()
    start = stored.pending_from if newest is None else min(stored.pending_from, newest + 1)
    frame = samples_read(device_id=timeframe.device_id, start=start, stop=state.end)
    if not state.update(**_engine_input(frame)):
        # Re-read samples the state has folded already (only when the channels' newest differ
        # by more than LATE_MS): keep what is new, and recompute the rest.
        stored.dirty = True
        state.update(**_engine_input(frame, after=newest))
    metrics = state.result()
    digest = _digest(metrics)
    changed = _store(
        stored,
        timeframe,
        metrics,
        status=ComputedData.Status.LIVE,
        now=now,
        digest=digest,
        last_digest=last_digest,
    )
    fields = ["state", "pending_from", "dirty", "next_run_at"]
    if changed:
        fields += ["data", "status", "revision", "computed_at"]
    # Saved even when the document did not change: a merged sample may matter later.
    stored.state = _state_dump(state, digest)
    stored.pending_from = None
    stored.next_run_at = _next_run(stored, timeframe, now)
    stored.save(update_fields=fields)
    return changed


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
