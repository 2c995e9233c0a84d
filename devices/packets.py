"""Gateway packets (SPEC §6): validation, plain data in, numpy arrays out, and the way back.

No Django here (only the project's domain error type).

The whole request is checked before anything is stored. Structure (which keys, scalar or array,
equal lengths) is checked packet by packet; values are checked once per channel field over the
whole request with numpy, so the per-sample cost is vectorised. Every failure names the packet
index, the field and the rule: `{"packets[3].gnss.latitude": ["must be in [-90, 90] ..."]}`.
"""

import math
import re
from dataclasses import dataclass, field
from itertools import chain

import numpy as np

from asi_api.errors import DomainError

MAX_PACKETS = 1000
MAX_ERRORS = 20
TS_MIN = 946_684_800_000  # 2000-01-01T00:00:00Z in epoch ms
TS_FUTURE_MS = 86_400_000  # now + 1 day
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
DEVICE_NAME_RE = re.compile(r"^[0-9a-f]{12}$")
NUMBER_TYPES = frozenset({int, float})

# (channel, field) → (low, high, high_inclusive); the low bound is always inclusive.
RANGES: dict[tuple[str, str], tuple[float, float, bool]] = {
    ("gnss", "latitude"): (-90.0, 90.0, True),
    ("gnss", "longitude"): (-180.0, 180.0, True),
    ("gnss", "speed"): (0.0, 50.0, False),
    ("ecg", "hr"): (0.0, 255.0, True),
    ("device", "Bat_lvl"): (0.0, 100.0, True),
}
REQUIRED_FIELDS = {"gnss": ("latitude", "longitude")}


class PacketsInvalid(DomainError):
    """The request breaks a rule; `errors` is the 400 body ({"packets[i].field": [rule]})."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(next(iter(errors.values()))[0], field=next(iter(errors)))
        self.errors = errors

    def as_body(self) -> dict:
        return self.errors


@dataclass
class ChannelSamples:
    """One channel across a request (all devices), in request order, not yet deduplicated."""

    ts: np.ndarray  # int64 epoch ms
    values: dict[str, np.ndarray]  # field → float64, NaN where a packet did not carry the field
    packet: np.ndarray  # int64 index of the packet each sample came from


@dataclass
class _Collect:
    ts: list = field(default_factory=list)
    values: dict[str, list] = field(default_factory=dict)
    packet_counts: list[tuple[int, int]] = field(default_factory=list)
    size: int = 0


@dataclass
class ParsedPackets:
    device_names: list[str]  # per packet
    channels: dict[str, ChannelSamples]  # every device's samples of a channel, request order

    @property
    def count(self) -> int:
        return len(self.device_names)

    @property
    def samples(self) -> int:
        return sum(len(c.ts) for c in self.channels.values())


class _Errors:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, where: str, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.setdefault(where, []).append(message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise PacketsInvalid(self.errors)


def _is_number(value: object) -> bool:
    return type(value) in NUMBER_TYPES


def packets_parse(body: object, *, now_ms: int) -> ParsedPackets:
    """Check a whole ingestion body and return its samples grouped by device and channel.

    Raises `PacketsInvalid` with every problem found (up to MAX_ERRORS) and nothing else.
    """
    if not isinstance(body, dict) or not isinstance(body.get("packets"), list):
        raise PacketsInvalid({"packets": ['A list of packets is required: {"packets": [...]}.']})
    packets = body["packets"]
    if len(packets) > MAX_PACKETS:
        raise PacketsInvalid(
            {"packets": [f"At most {MAX_PACKETS} packets per request (got {len(packets)})."]}
        )
    errors = _Errors()
    collected: dict[str, _Collect] = {}
    device_names: list[str] = []
    for index, packet in enumerate(packets):
        device_names.append(_collect_packet(index, packet, collected, errors))
    errors.raise_if_any()

    channels: dict[str, ChannelSamples] = {}
    for channel, col in collected.items():
        samples = _check_channel(channel, col, now_ms, errors)
        if samples is not None:
            channels[channel] = samples
    errors.raise_if_any()
    return ParsedPackets(device_names=device_names, channels=channels)


def _collect_packet(
    index: int,
    packet: object,
    collected: dict[str, _Collect],
    errors: _Errors,
) -> str:
    where = f"packets[{index}]"
    if not isinstance(packet, dict):
        errors.add(where, "A packet is an object.")
        return ""
    device_name = packet.get("device_name")
    if not isinstance(device_name, str) or not DEVICE_NAME_RE.match(device_name):
        errors.add(f"{where}.device_name", "Required: 12 lowercase hexadecimal characters.")
        return ""
    for channel, data in packet.items():
        if channel == "device_name":
            continue
        if not NAME_RE.match(channel):
            # Named with ascii(): the bad name may hold what no response can encode (surrogates).
            errors.add(
                where,
                f"Channel {ascii(channel)}: a name is a letter then letters, digits or _ (max 32).",
            )
            continue
        cwhere = f"{where}.{channel}"
        if not isinstance(data, dict) or "timestamp" not in data:
            errors.add(cwhere, "A channel is an object with a timestamp and numeric fields.")
            continue
        fields = {k: v for k, v in data.items() if k != "timestamp"}
        if not fields:
            errors.add(cwhere, "A channel needs at least one field beside its timestamp.")
            continue
        missing = [f for f in REQUIRED_FIELDS.get(channel, ()) if f not in fields]
        if missing:
            errors.add(f"{cwhere}.{missing[0]}", "Required in this channel.")
            continue
        bad_name = next((k for k in fields if not NAME_RE.match(k)), None)
        if bad_name is not None:
            errors.add(
                cwhere, f"Field {ascii(bad_name)}: a name is a letter then letters, digits or _."
            )
            continue
        ts = data["timestamp"]
        if isinstance(ts, list):
            n = len(ts)
            bad = next(
                (k for k, v in fields.items() if not isinstance(v, list) or len(v) != n), None
            )
            if bad is not None:
                errors.add(
                    f"{cwhere}.{bad}",
                    f"Array lengths must be equal: an array of {n} values, like timestamp.",
                )
                continue
        else:
            n = 1
            bad = next((k for k, v in fields.items() if not _is_number(v)), None)
            if bad is not None:
                errors.add(f"{cwhere}.{bad}", "With a scalar timestamp every field is a number.")
                continue
            ts = [ts]
            fields = {k: [v] for k, v in fields.items()}
        col = collected.get(channel)
        if col is None:
            col = collected[channel] = _Collect()
        if n == 0:
            continue
        col.ts.append(ts)
        for name in col.values.keys() - fields.keys():
            col.values[name].append(_Pad([math.nan] * n))
        for name, values in fields.items():
            if name not in col.values:
                col.values[name] = [_Pad([math.nan] * col.size)] if col.size else []
            col.values[name].append(values)
        col.packet_counts.append((index, n))
        col.size += n
    return device_name


def _check_channel(
    channel: str, col: _Collect, now_ms: int, errors: _Errors
) -> ChannelSamples | None:
    counts = np.array(col.packet_counts, dtype=np.int64).reshape(-1, 2)
    packet = np.repeat(counts[:, 0], counts[:, 1])

    def where(position: int, name: str) -> str:
        return f"packets[{int(packet[position])}].{channel}.{name}"

    flat_ts = list(chain.from_iterable(col.ts))
    if not set(map(type, flat_ts)) <= {int}:
        pos = next(i for i, v in enumerate(flat_ts) if type(v) is not int)
        errors.add(where(pos, "timestamp"), "Timestamps are integers (epoch milliseconds).")
        return None
    try:
        ts = np.array(flat_ts, dtype=np.int64)
    except OverflowError:
        pos = next(i for i, v in enumerate(flat_ts) if not TS_MIN <= v <= now_ms + TS_FUTURE_MS)
        ts = None
    else:
        outside = np.flatnonzero((ts < TS_MIN) | (ts > now_ms + TS_FUTURE_MS))
        pos = int(outside[0]) if len(outside) else None
    if pos is not None:
        errors.add(
            where(pos, "timestamp"),
            f"Timestamps must be between 2000-01-01 and now + 1 day (got {flat_ts[pos]}).",
        )
        return None

    values: dict[str, np.ndarray] = {}
    for name, parts in col.values.items():
        flat = list(chain.from_iterable(parts))
        if not set(map(type, flat)) <= NUMBER_TYPES:
            pos = next(i for i, v in enumerate(flat) if not _is_number(v))
            errors.add(where(pos, name), f"Values are numbers (got {type(flat[pos]).__name__}).")
            continue
        try:
            array = np.array(flat, dtype=np.float64)
        except OverflowError:
            pos = next(i for i, v in enumerate(flat) if isinstance(v, int) and abs(v) > 1e300)
            errors.add(where(pos, name), "Number out of range.")
            continue
        # NaN marks "this packet had no such field"; real input NaN/Infinity is refused, so
        # only padded positions may be NaN.
        real = np.ones(len(array), dtype=bool)
        offset = 0
        for part in parts:
            if isinstance(part, _Pad):
                real[offset : offset + len(part)] = False
            offset += len(part)
        bad = np.flatnonzero(real & ~np.isfinite(array))
        if len(bad):
            errors.add(where(int(bad[0]), name), "NaN and Infinity are not allowed.")
            continue
        rule = RANGES.get((channel, name))
        if rule is not None:
            low, high, inclusive = rule
            out = (array < low) | ((array > high) if inclusive else (array >= high))
            bad = np.flatnonzero(real & out)
            if len(bad):
                bracket = "]" if inclusive else ")"
                errors.add(
                    where(int(bad[0]), name),
                    f"Must be in [{low:g}, {high:g}{bracket} (got {array[bad[0]]:g}).",
                )
                continue
        values[name] = array
    return ChannelSamples(ts=ts, values=values, packet=packet)


class _Pad(list):
    """A run of NaN put in for a packet that lacked a field (told apart from a real NaN)."""


def json_column(values: np.ndarray) -> list:
    """Values as JSON numbers: integral columns as ints (hr 159, not 159.0); NaN as None."""
    finite = np.isfinite(values)
    present = values[finite]
    integral = bool(
        len(present) and np.all(present == np.round(present)) and np.all(np.abs(present) < 2**53)
    )
    out = values.astype(np.int64).tolist() if integral and finite.all() else values.tolist()
    if not finite.all():
        out = [
            (int(v) if integral else v) if ok else None
            for v, ok in zip(out, finite.tolist(), strict=True)
        ]
    return out


ARRAY_CHANNELS = frozenset({"gnss"})


def packets_build(
    device_name: str, channels: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]]
) -> list[dict]:
    """Samples of one device regrouped as packets, one per second, oldest first (SPEC §6 shape).

    `channels` maps a channel to (sorted ts, {field: values}), NaN meaning "no such reading".
    GNSS is always columnar; another channel with one sample in a second is written with scalars.
    """
    packets: dict[int, dict] = {}
    for channel, (ts, fields) in channels.items():
        seconds = (ts // 1000).tolist()
        cuts = (np.flatnonzero(np.diff(ts // 1000)) + 1).tolist()
        columns = {name: json_column(values) for name, values in fields.items()}
        stamps = ts.tolist()
        for lo, hi in zip([0, *cuts], [*cuts, len(stamps)], strict=True):
            packet = packets.setdefault(seconds[lo], {"device_name": device_name})
            data: dict = {}
            if hi - lo == 1 and channel not in ARRAY_CHANNELS:
                data["timestamp"] = stamps[lo]
                for name, column in columns.items():
                    if column[lo] is not None:
                        data[name] = column[lo]
            else:
                data["timestamp"] = stamps[lo:hi]
                for name, column in columns.items():
                    part = column[lo:hi]
                    if any(v is not None for v in part):
                        data[name] = part
            packet[channel] = data
    return [packets[second] for second in sorted(packets)]


def samples_columns(channels: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]]) -> dict:
    """Samples as plain lists for a channel-layer message: {channel: {"timestamp": [...], ...}}."""
    return {
        channel: {"timestamp": ts.tolist()} | {name: json_column(v) for name, v in fields.items()}
        for channel, (ts, fields) in channels.items()
    }


def samples_message_packets(message: dict) -> list[dict]:
    """The packets (SPEC §6 shape, one per second, oldest first) of a stream message."""
    channels = {
        channel: (
            np.asarray(data["timestamp"], dtype=np.int64),
            {
                name: np.array([np.nan if v is None else v for v in values], dtype=np.float64)
                for name, values in data.items()
                if name != "timestamp"
            },
        )
        for channel, data in message["channels"].items()
    }
    return packets_build(message["device_name"], channels)
