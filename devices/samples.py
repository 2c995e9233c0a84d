"""Sample storage (SPEC §6): chunked rows in a time-partitioned table, written and read in bulk.

Layout (migration 0003): one row of `devices_sample` is one *chunk*, the samples of one
(device, channel) stored by one request within one aligned 10-second bucket (CHUNK_MS):

    t_first, t_last  bigint   first and last sample timestamp (epoch ms); partition key t_first
    device_id        bigint
    channel_id       smallint devices.SampleChannel (names the value columns, in order)
    ts               bytea    int32 little-endian offsets from t_first, strictly increasing
    vals             bytea    float64 little-endian, field-major (k fields × n samples); NaN = the
                              sample has no such field; k may be less than the channel's fields

Why chunks: measured on PostgreSQL 15 (10 Hz GNSS + 1 Hz heart rate + 1 Hz status), a row per
sample costs 105 bytes per sample with its key, a chunk per packet 55 (docs/operations.md).

Idempotency stays per sample: a writer takes a per-device transaction lock (PostgreSQL advisory
lock; SQLite's IMMEDIATE transactions serialise writers anyway), reads the timestamps already
stored for the request's span, and inserts only samples not yet there, so the first write wins
and duplicates are counted exactly, whatever the chunking of earlier requests. The unique key
(device_id, t_first, channel_id) is the backstop (two chunks can never share a first sample) and
the read index. Everything that writes samples must go through `samples_store`.

Chunks never cross a 10-second boundary, so they never cross a partition bound (months) nor a
retention cut at a date, and a range query need only look 10 s before its start.
"""

import csv
import io
import logging
import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from django.db import connection, transaction

from devices.models import SampleChannel
from devices.packets import ParsedPackets, json_column

logger = logging.getLogger(__name__)

TABLE = "devices_sample"
# A chunk never spans more than this; reads and the duplicate check look this far back.
CHUNK_MS = 10_000
# Advisory lock keys: this namespace in the high bits, the device id in the low ones.
LOCK_NAMESPACE = 0x5A17 << 44
READ_BATCH_ROWS = 2000


# --- channel registry ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Channel:
    id: int
    name: str
    fields: tuple[str, ...]


_channels_by_name: dict[str, Channel] = {}
_channels_by_id: dict[int, Channel] = {}


def _channels_reload() -> None:
    rows = SampleChannel.objects.values_list("id", "name", "fields")
    channels = [Channel(id=i, name=n, fields=tuple(f)) for i, n, f in rows]
    _channels_by_name.clear()
    _channels_by_name.update((c.name, c) for c in channels)
    _channels_by_id.clear()
    _channels_by_id.update((c.id, c) for c in channels)


def channels_cache_clear() -> None:
    """Forget the cached registry (tests: their transactions roll registrations back)."""
    _channels_by_name.clear()
    _channels_by_id.clear()


def channel_by_id(channel_id: int) -> Channel:
    if channel_id not in _channels_by_id:
        _channels_reload()
    return _channels_by_id[channel_id]


def channels_all() -> list[Channel]:
    _channels_reload()
    return sorted(_channels_by_id.values(), key=lambda c: c.id)


def channels_resolve(wanted: dict[str, Iterable[str]]) -> dict[str, Channel]:
    """The registry entries of `wanted` {channel: fields}, registering new channels and fields.

    The registry is append-only (fields only grow), so a process's cache may lag but is never
    wrong. Call it outside the samples' transaction: a registration then commits at once, so
    no process caches a channel id that a rollback could take back (a channel registered by a
    request that then fails costs nothing).
    """

    def known(name: str, fields: Iterable[str]) -> bool:
        channel = _channels_by_name.get(name)
        return channel is not None and set(fields) <= set(channel.fields)

    if not all(known(n, f) for n, f in wanted.items()):
        _channels_reload()
        for name, fields in wanted.items():
            if not known(name, fields):
                _channel_register(name, list(fields))
        _channels_reload()
    return {name: _channels_by_name[name] for name in wanted}


def _channel_register(name: str, fields: list[str]) -> None:
    with transaction.atomic():
        SampleChannel.objects.get_or_create(name=name, defaults={"fields": []})
        channel = SampleChannel.objects.select_for_update().get(name=name)
        missing = [f for f in fields if f not in channel.fields]
        if missing:
            channel.fields = [*channel.fields, *missing]
            channel.save(update_fields=["fields"])
            logger.info("sample channel %s now has fields %s", name, channel.fields)


# --- writing -------------------------------------------------------------------------------------


@dataclass
class NewSamples:
    """Samples of one device newly stored by a request: channel → (ts, {field: values})."""

    device_id: int
    channels: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]] = field(default_factory=dict)

    @property
    def t_min(self) -> int:
        return int(min(ts[0] for ts, _ in self.channels.values()))

    @property
    def t_max(self) -> int:
        return int(max(ts[-1] for ts, _ in self.channels.values()))


@dataclass
class StoreResult:
    stored: int
    duplicates: int
    new: list[NewSamples]


class DevicesChanged(Exception):
    """A device named by the request was renamed or deleted since its id was looked up."""


def samples_store(
    *,
    parsed: ParsedPackets,
    device_ids: list[int],
    channels: dict[str, Channel],
    device_names: dict[int, str] | None = None,
) -> StoreResult:
    """Store the samples of a validated request; `device_ids[i]` is packet i's device.

    With `device_names` ({id: name}, from a cache), each device is checked to still have that
    name, in the same round trip as the duplicate check and after the device locks; if one does
    not, `DevicesChanged` is raised and nothing is stored (the caller looks the names up again).

    `channels` comes from `channels_resolve`, called before the transaction (a registration
    must be committed before a process caches it). Must run inside a transaction (the caller's:
    one per request). Returns the numbers of new and duplicate samples, and the new samples per
    device (for the stream and the analytics).
    """
    assert connection.in_atomic_block, "samples_store runs inside the request's transaction"
    packet_device = np.asarray(device_ids, dtype=np.int64)
    devices = np.unique(packet_device)
    if len(parsed.channels) == 0 or parsed.samples == 0:
        return StoreResult(stored=0, duplicates=0, new=[])
    # Composite key (device slot, ts): slot < 2^10 packets' devices, ts < 2^44 ms (year 2527).
    slot_of = {int(d): i for i, d in enumerate(devices)}
    prepared = []
    spans: dict[int, list[int]] = {}
    for name, samples in parsed.channels.items():
        if len(samples.ts) == 0:
            continue
        dev = packet_device[samples.packet]
        order = np.lexsort((samples.ts, dev))  # stable: first in request order wins a tie
        dev, ts = dev[order], samples.ts[order]
        first = np.ones(len(ts), dtype=bool)
        first[1:] = (dev[1:] != dev[:-1]) | (ts[1:] != ts[:-1])
        order, dev, ts = order[first], dev[first], ts[first]
        channel = channels[name]
        values = np.full((len(channel.fields), len(ts)), np.nan)
        for k, field_name in enumerate(channel.fields):
            if field_name in samples.values:
                values[k] = samples.values[field_name][order]
        prepared.append((channel, dev, ts, values))
        # Sorted by (device, ts): each device's run gives its span at its ends.
        for lo, hi in _runs(dev):
            d, t_lo, t_hi = int(dev[lo]), int(ts[lo]), int(ts[hi - 1])
            span = spans.setdefault(d, [t_lo, t_hi])
            span[0], span[1] = min(span[0], t_lo), max(span[1], t_hi)

    with connection.cursor() as cursor:
        existing = _existing_keys(cursor, devices, spans, slot_of, device_names)
        rows: list[tuple] = []
        new: dict[int, NewSamples] = {}
        stored = 0
        for channel, dev, ts, values in prepared:
            keys = (_slots(dev, devices) << 44) | ts
            keep = ~np.isin(keys, existing.get(channel.id, np.empty(0, np.int64)))
            if not keep.any():
                continue
            dev, ts, values = dev[keep], ts[keep], values[:, keep]
            stored += len(ts)
            rows.extend(_chunks(channel.id, dev, ts, values))
            present_fields = ~np.isnan(values)
            for lo, hi in _runs(dev):
                present = {
                    f: values[k, lo:hi]
                    for k, f in enumerate(channel.fields)
                    if present_fields[k, lo:hi].any()
                }
                device = new.setdefault(int(dev[lo]), NewSamples(device_id=int(dev[lo])))
                device.channels[channel.name] = (ts[lo:hi], present)
        _insert(cursor, rows)
    return StoreResult(stored=stored, duplicates=parsed.samples - stored, new=list(new.values()))


def _runs(keys: np.ndarray) -> list[tuple[int, int]]:
    """(lo, hi) bounds of the runs of equal values in a sorted array."""
    cuts = (np.flatnonzero(keys[1:] != keys[:-1]) + 1).tolist()
    return list(zip([0, *cuts], [*cuts, len(keys)], strict=True))


def _slots(dev: np.ndarray, devices: np.ndarray) -> np.ndarray:
    return np.searchsorted(devices, dev).astype(np.int64)


def _existing_keys(
    cursor,
    devices: np.ndarray,
    spans: dict[int, list[int]],
    slot_of: dict[int, int],
    device_names: dict[int, str] | None = None,
) -> dict:
    """Lock the devices, then the keys (slot << 44 | ts) already stored over each device's span.

    One round trip: the locks (PostgreSQL; in device order, so two requests naming the same
    devices cannot deadlock) and the read run as one batch; the read's snapshot is taken after
    the locks are held, so it sees every sample committed by the previous holder. With
    `device_names`, the same statement also returns each device's current name (rows with
    channel_id -1), and a mismatch raises `DevicesChanged`.
    """
    locks, lock_params = "", []
    if connection.vendor == "postgresql":
        locks = "".join("SELECT pg_advisory_xact_lock(%s); " for _ in devices)
        lock_params = [LOCK_NAMESPACE + int(d) for d in devices]
    where, params = [], []
    for device_id, (t_min, t_max) in spans.items():
        where.append("(device_id = %s AND t_first >= %s AND t_first <= %s AND t_last >= %s)")
        params += [device_id, t_min - t_min % CHUNK_MS, t_max, t_min]
    select = f"SELECT device_id, channel_id, t_first, ts FROM {TABLE} WHERE {' OR '.join(where)}"
    if device_names is not None:
        as_bytes = (
            "convert_to(device_name, 'UTF8')"
            if connection.vendor == "postgresql"
            else "CAST(device_name AS BLOB)"
        )
        select += (
            f" UNION ALL SELECT id, -1, 0, {as_bytes} FROM devices_device WHERE id IN "
            f"({', '.join(['%s'] * len(devices))})"
        )
        params += [int(d) for d in devices]
    cursor.execute(locks + select, lock_params + params)
    found: dict[int, list[np.ndarray]] = {}
    names: dict[int, str] = {}
    for device_id, channel_id, t_first, ts in cursor.fetchall():
        if channel_id == -1:
            names[device_id] = bytes(ts).decode()
            continue
        keys = (np.frombuffer(bytes(ts), dtype="<i4").astype(np.int64) + t_first) | (
            slot_of[device_id] << 44
        )
        found.setdefault(channel_id, []).append(keys)
    if device_names is not None and any(
        names.get(int(d)) != device_names.get(int(d)) for d in devices
    ):
        raise DevicesChanged()
    return {channel_id: np.concatenate(parts) for channel_id, parts in found.items()}


def _chunks(channel_id: int, dev: np.ndarray, ts: np.ndarray, values: np.ndarray) -> list[tuple]:
    """Rows of (t_first, t_last, device_id, channel_id, ts bytes, vals bytes), one per bucket."""
    bucket = ts // CHUNK_MS
    cuts = (np.flatnonzero((dev[1:] != dev[:-1]) | (bucket[1:] != bucket[:-1])) + 1).tolist()
    present = ~np.isnan(values)
    stamps, devs = ts.tolist(), dev.tolist()
    rows = []
    for lo, hi in zip([0, *cuts], [*cuts, len(ts)], strict=True):
        used = np.flatnonzero(present[:, lo:hi].any(axis=1))
        width = int(used[-1]) + 1 if len(used) else 0
        t_first = stamps[lo]
        rows.append(
            (
                t_first,
                stamps[hi - 1],
                devs[lo],
                channel_id,
                (ts[lo:hi] - t_first).astype("<i4").tobytes(),
                values[:width, lo:hi].astype("<f8", order="C").tobytes(),
            )
        )
    return rows


def _insert(cursor, rows: list[tuple]) -> None:
    if not rows:
        return
    columns = "t_first, t_last, device_id, channel_id, ts, vals"
    if connection.vendor != "postgresql":
        cursor.executemany(f"INSERT INTO {TABLE} ({columns}) VALUES (%s, %s, %s, %s, %s, %s)", rows)
        return
    # COPY straight into the partitioned table (rows are routed to their partition): the
    # duplicates were removed above under the device locks, so nothing can conflict.
    buffer = io.StringIO()
    for t_first, t_last, device_id, channel_id, ts, vals in rows:
        buffer.write(
            f"{t_first}\t{t_last}\t{device_id}\t{channel_id}\t\\\\x{ts.hex()}\t\\\\x{vals.hex()}\n"
        )
    buffer.seek(0)
    cursor.copy_expert(f"COPY {TABLE} ({columns}) FROM STDIN", buffer)


# --- reading -------------------------------------------------------------------------------------


@dataclass
class SampleFrame:
    """Samples of one device: channel → (ts sorted, {field: values}); NaN = no such reading."""

    channels: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]]
    next_start: int | None = None

    def timestamps(self) -> np.ndarray:
        parts = [ts for ts, _ in self.channels.values()]
        return np.unique(np.concatenate(parts)) if parts else np.empty(0, np.int64)


def _decode(rows: list[tuple], start: int, stop: int) -> dict[int, list[tuple]]:
    """Decode chunk rows (t_first, channel_id, ts, vals) into per-channel parts within [start, stop)."""
    parts: dict[int, list[tuple]] = {}
    for t_first, channel_id, ts_bytes, vals_bytes in rows:
        ts = np.frombuffer(bytes(ts_bytes), dtype="<i4").astype(np.int64) + t_first
        vals = np.frombuffer(bytes(vals_bytes), dtype="<f8").reshape(-1, len(ts))
        inside = (ts >= start) & (ts < stop)
        if not inside.all():
            ts, vals = ts[inside], vals[:, inside]
        if len(ts):
            parts.setdefault(channel_id, []).append((ts, vals))
    return parts


def _frame(parts: dict[int, list[tuple]], keep_before: int | None = None) -> SampleFrame:
    channels = {}
    for channel_id in sorted(parts):
        channel = channel_by_id(channel_id)
        chunks = parts[channel_id]
        ts = np.concatenate([t for t, _ in chunks])
        width = max(v.shape[0] for _, v in chunks)
        if width > len(channel.fields):
            _channels_reload()
            channel = channel_by_id(channel_id)
        vals = np.full((width, len(ts)), np.nan)
        offset = 0
        for t, v in chunks:
            vals[: v.shape[0], offset : offset + len(t)] = v
            offset += len(t)
        order = np.argsort(ts, kind="stable")
        ts, vals = ts[order], vals[:, order]
        if keep_before is not None:
            cut = int(np.searchsorted(ts, keep_before))
            ts, vals = ts[:cut], vals[:, :cut]
        if len(ts):
            channels[channel.name] = (ts, {channel.fields[k]: vals[k] for k in range(width)})
    return SampleFrame(channels=channels)


def samples_read(*, device_id: int, start: int, stop: int, limit: int | None = None) -> SampleFrame:
    """Samples of `device_id` with start ≤ ts < stop, at most `limit` distinct timestamps.

    Chunks are fetched in key order (device_id, t_first, channel_id), in batches, until more than
    `limit` distinct timestamps are known complete: every chunk not yet fetched starts at or after
    the last fetched chunk's t_first, so samples before that are final. `next_start` is the first
    timestamp after the page (None when the window is exhausted): keyset paging, as cheap deep in
    the window as at its start.
    """
    lo = start - start % CHUNK_MS
    after = (lo - 1, 1 << 15)
    parts: dict[int, list[tuple]] = {}
    complete_before = stop
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                f"SELECT t_first, channel_id, ts, vals FROM {TABLE} "
                "WHERE device_id = %s AND t_first < %s AND (t_first, channel_id) > (%s, %s) "
                "ORDER BY t_first, channel_id LIMIT %s",
                [device_id, stop, after[0], after[1], READ_BATCH_ROWS],
            )
            rows = cursor.fetchall()
            for channel_id, chunks in _decode(rows, start, stop).items():
                parts.setdefault(channel_id, []).extend(chunks)
            if len(rows) < READ_BATCH_ROWS:
                complete_before = stop
                break
            after = (rows[-1][0], rows[-1][1])
            complete_before = rows[-1][0]
            if limit is not None and _distinct_before(parts, complete_before) > limit:
                break
    frame = _frame(parts, keep_before=complete_before)
    if limit is None:
        return frame
    stamps = frame.timestamps()
    if len(stamps) > limit:
        frame = _frame(parts, keep_before=int(stamps[limit]))
        frame.next_start = int(stamps[limit])
    return frame


def samples_timestamps(*, device_id: int, start: int, stop: int) -> np.ndarray:
    """The distinct sample timestamps (any channel) of `device_id` in [start, stop), sorted.

    What the `count` and the page numbers of `/preprocessed/` are made of: one row per timestamp.
    On PostgreSQL one aggregate row carries every chunk's t_first, length and offsets, as raw
    bytes through a binary COPY (no row per chunk, no hex text), and numpy rebuilds and merges
    the timestamps. Measured with 10 M samples stored, a 2-day window of 10 Hz GNSS + 1 Hz heart
    rate and status (1.7 M timestamps, 259 k chunks): ~90 ms, against ~280-480 ms for the same
    through a row per channel of `array_agg`/`string_agg` (bench/ingest.py prints it).
    """
    lo = start - start % CHUNK_MS
    where = "device_id = %s AND t_first >= %s AND t_first < %s AND t_last >= %s"
    params = [device_id, lo, stop, start]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # No ORDER BY: the three aggregates see the rows in the same order, which is all
            # that matters (the timestamps are sorted below).
            query = cursor.mogrify(
                "COPY (SELECT string_agg(int8send(t_first), ''::bytea), "
                "string_agg(int4send(length(ts) / 4), ''::bytea), string_agg(ts, ''::bytea) "
                f"FROM {TABLE} WHERE {where}) TO STDOUT WITH (FORMAT binary)",
                params,
            ).decode()
            buffer = io.BytesIO()
            cursor.copy_expert(query, buffer)
            firsts, lengths, offsets = _copy_binary_row(buffer.getvalue())
            firsts = np.frombuffer(firsts, dtype=">i8").astype(np.int64)
            lengths = np.frombuffer(lengths, dtype=">i4").astype(np.int64)
        else:
            cursor.execute(f"SELECT t_first, ts FROM {TABLE} WHERE {where}", params)
            rows = cursor.fetchall()
            firsts = np.array([r[0] for r in rows], np.int64)
            lengths = np.array([len(r[1]) // 4 for r in rows], np.int64)
            offsets = b"".join(bytes(r[1]) for r in rows)
    stamps = np.frombuffer(offsets, dtype="<i4").astype(np.int64) + np.repeat(firsts, lengths)
    stamps = np.sort(stamps[(stamps >= start) & (stamps < stop)], kind="stable")
    keep = np.ones(len(stamps), dtype=bool)
    keep[1:] = stamps[1:] != stamps[:-1]
    return stamps[keep]


def _copy_binary_row(data: bytes) -> list[bytes]:
    """The fields of the one row of a binary COPY (PostgreSQL's format; NULL → b"")."""
    position = 19  # signature (11), flags (4), header extension length (4, always 0 here)
    (count,) = struct.unpack_from("!h", data, position)
    position += 2
    fields = []
    for _ in range(count):
        (length,) = struct.unpack_from("!i", data, position)
        position += 4
        if length < 0:
            fields.append(b"")
            continue
        fields.append(data[position : position + length])
        position += length
    return fields


def _distinct_before(parts: dict[int, list[tuple]], before: int) -> int:
    arrays = [ts[ts < before] for chunks in parts.values() for ts, _ in chunks]
    return len(np.unique(np.concatenate(arrays))) if arrays else 0


def samples_ranges(*, device_id: int, start: int, stop: int, gap_ms: int = 60_000) -> list:
    """Contiguous recording periods [(first, last)] within [start, stop): a gap over `gap_ms` splits.

    Works on chunk bounds (a chunk spans under 10 s, so no gap inside one can exceed 60 s);
    only the chunks straddling `start` or `stop` are decoded, to clip exactly.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT t_first, t_last, ts FROM {TABLE} "
            "WHERE device_id = %s AND t_first >= %s AND t_first < %s AND t_last >= %s "
            "ORDER BY t_first",
            [device_id, start - start % CHUNK_MS, stop, start],
        )
        rows = cursor.fetchall()
    firsts, lasts = [], []
    for t_first, t_last, ts in rows:
        if t_first < start or t_last >= stop:
            stamps = np.frombuffer(bytes(ts), dtype="<i4").astype(np.int64) + t_first
            stamps = stamps[(stamps >= start) & (stamps < stop)]
            if not len(stamps):
                continue
            t_first, t_last = int(stamps[0]), int(stamps[-1])
        firsts.append(t_first)
        lasts.append(t_last)
    if not firsts:
        return []
    first = np.array(firsts, dtype=np.int64)
    last = np.maximum.accumulate(np.array(lasts, dtype=np.int64))
    cuts = np.flatnonzero(first[1:] - last[:-1] > gap_ms) + 1
    return [
        (int(first[lo]), int(last[hi - 1]))
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(first)], strict=True)
    ]


def samples_latest(*, device_id: int, since: int | None = None) -> SampleFrame:
    """The newest packet of `device_id`: its samples within the second of its newest sample.

    With `since` (epoch ms), samples before it do not exist for this question (a current owner
    sees nothing recorded before his ownership began).
    """
    since = -(2**62) if since is None else since
    with connection.cursor() as cursor:
        # Chunks span at most CHUNK_MS: the newest sample is in a chunk starting at most that
        # long before the newest chunk start.
        cursor.execute(
            f"SELECT max(t_first) FROM {TABLE} WHERE device_id = %s AND t_last >= %s",
            [device_id, since],
        )
        (newest_first,) = cursor.fetchone()
        if newest_first is None:
            return SampleFrame(channels={})
        cursor.execute(
            f"SELECT max(t_last) FROM {TABLE} WHERE device_id = %s AND t_first >= %s",
            [device_id, newest_first - CHUNK_MS],
        )
        (newest,) = cursor.fetchone()
    second = newest - newest % 1000
    return samples_read(device_id=device_id, start=max(second, since), stop=second + 1000)


# --- partitions and retention (PostgreSQL) ---------------------------------------------------------


def month_start_ms(year: int, month: int) -> int:
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp() * 1000)


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def partition_name(year: int, month: int) -> str:
    return f"{TABLE}_p{year:04d}{month:02d}"


@dataclass(frozen=True)
class Partition:
    name: str
    lower: int | None  # epoch ms; None for the DEFAULT partition
    upper: int | None


_BOUND_RE = re.compile(r"FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)")


def partitions_list() -> list[Partition]:
    """The partitions of the samples table, oldest first, the DEFAULT one last."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            [TABLE],
        )
        rows = cursor.fetchall()
    partitions = []
    for name, bound in rows:
        match = _BOUND_RE.search(bound)
        lower, upper = (int(match[1]), int(match[2])) if match else (None, None)
        partitions.append(Partition(name=name, lower=lower, upper=upper))
    return sorted(partitions, key=lambda p: (p.lower is None, p.lower or 0))


def partitions_ensure(*, months_ahead: int = 2, now: datetime | None = None) -> list[str]:
    """Create the monthly partitions from this month to `months_ahead` months ahead.

    Idempotent and quick when they exist. Samples that landed in the DEFAULT partition for a
    month being created are moved into it in the same transaction (PostgreSQL refuses to attach
    a range the DEFAULT partition still holds rows of). Returns the names created.
    """
    if connection.vendor != "postgresql":
        return []
    now = now or datetime.now(UTC)
    year, month = now.year, now.month
    created = []
    for _ in range(months_ahead + 1):
        name = partition_name(year, month)
        lower, upper = month_start_ms(year, month), month_start_ms(*_next_month(year, month))
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s)", [name])
            if cursor.fetchone()[0] is None:
                cursor.execute(f"LOCK TABLE {TABLE} IN SHARE ROW EXCLUSIVE MODE")
                cursor.execute("SELECT to_regclass(%s)", [name])
                if cursor.fetchone()[0] is None:
                    cursor.execute(
                        f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
                    )
                    cursor.execute(
                        f"WITH moved AS (DELETE FROM {TABLE}_default WHERE t_first >= %s "
                        f"AND t_first < %s RETURNING *) INSERT INTO {name} SELECT * FROM moved",
                        [lower, upper],
                    )
                    cursor.execute(
                        f"ALTER TABLE {TABLE} ATTACH PARTITION {name} "
                        f"FOR VALUES FROM ({lower}) TO ({upper})"
                    )
                    created.append(name)
                    logger.info("created sample partition %s", name)
        year, month = _next_month(year, month)
    return created


def storage_bytes() -> tuple[int, int]:
    """(bytes of the samples table with its indexes, number of samples stored)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits "
                "WHERE inhparent = %s::regclass",
                [TABLE],
            )
            size = int(cursor.fetchone()[0])
        else:
            size = 0
        cursor.execute(f"SELECT coalesce(sum(length(ts)), 0) / 4 FROM {TABLE}")
        return size, int(cursor.fetchone()[0])


def frame_table(frame: SampleFrame) -> tuple[list[int], list[tuple[str, list]]]:
    """A frame as flat columns: (timestamps, [("channel.field", values with None), ...])."""
    stamps = frame.timestamps()
    columns = []
    for channel, (ts, fields) in frame.channels.items():
        positions = np.searchsorted(stamps, ts)
        for name, values in fields.items():
            full = np.full(len(stamps), np.nan)
            full[positions] = values
            if np.isfinite(full).any():
                columns.append((f"{channel}.{name}", json_column(full)))
    return stamps.tolist(), columns


def table_csv_lines(stamps: list[int], columns: list[tuple[str, list]]) -> Iterator[str]:
    """The CSV text of a `frame_table`: header `timestamp,channel.field,...`, then a row per
    timestamp (empty cell = no such reading), yielded 1000 rows at a time (for streaming)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["timestamp", *(name for name, _ in columns)])
    for lo in range(0, len(stamps), 1000):
        for i in range(lo, min(lo + 1000, len(stamps))):
            writer.writerow([stamps[i], *("" if v[i] is None else v[i] for _, v in columns)])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
