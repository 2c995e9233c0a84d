"""`packets_ingest`: the one write path of device samples (the API, simulate_match, import_recording).

Validate the whole request first (devices.packets, vectorised), then one transaction stores
what is new (devices.samples.samples_store). Only after commit: one channel-layer message per
device with the newly stored samples, and one analytics task for the whole request, sent by the
process's publisher thread (streaming.publish.announce) so the answer does not wait for Redis.
Neither the channel layer nor the broker being down fails or loses an ingest: the samples are
committed before either is tried; failures are logged and counted.
"""

import logging
import time
from dataclasses import dataclass

from django.db import transaction

from analytics.tasks import samples_arrived
from asi_api.scheduling import enqueue_on_commit, is_embedded
from devices.models import Device
from devices.packets import MAX_ERRORS, PacketsInvalid, packets_parse, samples_columns
from devices.samples import NewSamples, channels_resolve, samples_store
from streaming.publish import announce, publish_failures, publish_many, samples_message

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    packets: int
    samples: int  # newly stored
    duplicates: int  # already stored (or repeated within the request): ignored


def packets_ingest(*, body: object, now_ms: int | None = None) -> IngestResult:
    """Store the packets of one gateway request (SPEC §6); all or nothing.

    Raises `PacketsInvalid` (400, naming packet index, field and rule) before anything is
    stored. Idempotent per sample (device, channel, timestamp): the first write wins; a resend
    is counted in `duplicates`, stores nothing and publishes nothing.
    """
    parsed = packets_parse(body, now_ms=now_ms if now_ms is not None else int(time.time() * 1000))
    names = set(parsed.device_names)
    ids = dict(Device.objects.filter(device_name__in=names).values_list("device_name", "id"))
    if len(ids) < len(names):
        errors: dict[str, list[str]] = {}
        for index, name in enumerate(parsed.device_names):
            if name not in ids and len(errors) < MAX_ERRORS:
                errors.setdefault(f"packets[{index}].device_name", ["Unknown device."])
        raise PacketsInvalid(errors)

    channels = channels_resolve({name: s.values.keys() for name, s in parsed.channels.items()})
    with transaction.atomic():
        result = samples_store(
            parsed=parsed, device_ids=[ids[n] for n in parsed.device_names], channels=channels
        )
        if result.new:
            names_by_id = {device_id: name for name, device_id in ids.items()}
            transaction.on_commit(
                lambda: announce(lambda: _announce(result.new, names_by_id)), robust=True
            )
    return IngestResult(packets=parsed.count, samples=result.stored, duplicates=result.duplicates)


def _announce(new: list[NewSamples], names_by_id: dict[int, str]) -> None:
    """After commit: one stream message per device, then one analytics task per request."""
    publish_many(
        [
            samples_message(
                device_id=device.device_id,
                device_name=names_by_id[device.device_id],
                channels=samples_columns(device.channels),
            )
            for device in new
        ]
    )
    spans = [[d.device_id, d.t_min, d.t_max] for d in new]
    try:
        if is_embedded():
            # Inline, after commit: the helper hands it to the embedded runner thread.
            enqueue_on_commit(samples_arrived, spans)
        else:
            # On the publisher thread, already after commit. Not through enqueue_on_commit:
            # its transaction check would open a database connection in this thread.
            samples_arrived.delay(spans)
    except Exception:
        publish_failures.increment()
        logger.warning("could not enqueue analytics for %s", spans, exc_info=True)
