"""Writes on devices and their ownership (SPEC §4). Services raise `asi_api.errors`, never DRF's.

Race safety: "at most one ongoing ownership per device, no two overlapping periods" is a
PostgreSQL exclusion constraint (migration 0002). The checks below give the friendly answer in
the common case; when two writers race past them, the constraint rejects the loser and we map
that to the same 409. On SQLite (embedded mode) transactions are IMMEDIATE, so the checks
cannot interleave.
"""

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from asi_api.errors import Conflict, DomainError, NotFound, RuleViolation
from asi_api.events import DomainEvent, event_emit
from devices.events import OWNERSHIP_ENDED
from devices.models import NO_OVERLAP_CONSTRAINT, OPEN_END, Device, DeviceOwnership
from devices.selectors import ownerships_current
from users.models import User

logger = logging.getLogger(__name__)

DEVICE_NAME_RE = re.compile(r"^[0-9a-f]{12}$")
SERIAL_NUMBER_MAX = Device._meta.get_field("serial_number").max_length
CUSTOM_NAME_MAX = Device._meta.get_field("custom_name").max_length


# --- devices ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceRow:
    """One device to create, e.g. a CSV line (`line` is its number, for error messages)."""

    device_name: str
    serial_number: str
    custom_name: str = ""
    line: int = 0


def device_row_errors(row: DeviceRow) -> dict[str, str]:
    """What is wrong with one row on its own (format only), as {field: message}."""
    errors: dict[str, str] = {}
    if not DEVICE_NAME_RE.match(row.device_name):
        errors["device_name"] = "A device name is 12 lowercase hexadecimal characters."
    if not row.serial_number:
        errors["serial_number"] = "A serial number is required."
    elif len(row.serial_number) > SERIAL_NUMBER_MAX:
        errors["serial_number"] = f"At most {SERIAL_NUMBER_MAX} characters."
    if len(row.custom_name) > CUSTOM_NAME_MAX:
        errors["custom_name"] = f"At most {CUSTOM_NAME_MAX} characters."
    return errors


def device_create(*, device_name: str, serial_number: str, custom_name: str = "") -> Device:
    """Create a device (admins only; the caller checks the role). Inactive until first owned."""
    row = DeviceRow(device_name=device_name, serial_number=serial_number, custom_name=custom_name)
    errors = device_row_errors(row)
    if errors:
        field, message = next(iter(errors.items()))
        raise DomainError(message, field=field)
    for field in ("device_name", "serial_number"):
        if Device.objects.filter(**{field: getattr(row, field)}).exists():
            raise DomainError(f"A device with this {field} already exists.", field=field)
    try:
        with transaction.atomic():
            return Device.objects.create(
                device_name=device_name, serial_number=serial_number, custom_name=custom_name
            )
    except IntegrityError:
        # Two admins created the same device at once: the unique index decided.
        raise DomainError(
            "A device with this device_name or serial_number already exists.", field="device_name"
        ) from None


def device_rows_errors(rows: list[DeviceRow]) -> list[str]:
    """Every problem of a batch, one message per problem, naming the line (for the CSV import).

    Checks each row's format, duplicates inside the batch, and clashes with existing devices
    (one query per field for the whole batch).
    """
    problems: list[str] = []
    seen: dict[str, dict[str, int]] = {"device_name": {}, "serial_number": {}}
    for row in rows:
        for field, message in device_row_errors(row).items():
            problems.append(f"line {row.line}: {field}: {message}")
        for field, lines in seen.items():
            value = getattr(row, field)
            if value in lines:
                problems.append(
                    f"line {row.line}: {field}: '{value}' already appears on line {lines[value]}."
                )
            else:
                lines[value] = row.line
    for field, lines in seen.items():
        existing = Device.objects.filter(**{f"{field}__in": list(lines)}).values_list(
            field, flat=True
        )
        for value in existing:
            problems.append(
                f"line {lines[value]}: {field}: a device with '{value}' already exists."
            )
    return sorted(problems, key=lambda problem: int(problem.split(":")[0].removeprefix("line ")))


def devices_create_bulk(
    *,
    rows: list[DeviceRow],
    batch_size: int = 1000,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Create all `rows` or none (one transaction); returns how many were created.

    Raises DomainError listing every bad row when the batch does not pass `device_rows_errors`
    (or when another writer created one of the devices meanwhile). `on_progress(n)` is called
    after each batch of n rows is inserted.
    """
    problems = device_rows_errors(rows)
    if problems:
        raise DomainError("\n".join(problems))
    try:
        with transaction.atomic():
            for offset in range(0, len(rows), batch_size):
                batch = rows[offset : offset + batch_size]
                Device.objects.bulk_create(
                    Device(
                        device_name=row.device_name,
                        serial_number=row.serial_number,
                        custom_name=row.custom_name,
                    )
                    for row in batch
                )
                if on_progress:
                    on_progress(len(batch))
    except IntegrityError as exc:
        raise DomainError(f"A device of this batch was created meanwhile: {exc}") from None
    return len(rows)


def device_set_custom_name(*, manager: User, device: Device, custom_name: str) -> Device:
    """Rename a device; only its current owner may (a past owner gets 403)."""
    if len(custom_name) > CUSTOM_NAME_MAX:
        raise DomainError(f"At most {CUSTOM_NAME_MAX} characters.", field="custom_name")
    with transaction.atomic():
        current = ownerships_current().filter(device=device).first()
        if current is None or current.manager_id != manager.pk:
            raise RuleViolation("Only the current owner of this device may rename it.")
        device.custom_name = custom_name
        device.save(update_fields=["custom_name"])
    return device


def device_activate(*, device: Device, at: datetime) -> None:
    """Mark a device active from `at` the first time it is owned (later calls change nothing)."""
    updated = Device.objects.filter(pk=device.pk, is_active=False).update(
        is_active=True, activated_at=at
    )
    if updated:
        device.is_active, device.activated_at = True, at


# --- ownership ----------------------------------------------------------------------------------


# SQLSTATEs that mean "another ownership of this device got there first": the exclusion
# constraint's violation, and the deadlock PostgreSQL reports when two inserts each wait on the
# other's uncommitted row while checking that constraint.
_LOST_RACE_SQLSTATES = {"23P01", "40P01"}


def _lost_race(exc: Exception) -> bool:
    sqlstate = getattr(exc.__cause__, "pgcode", None)
    return sqlstate in _LOST_RACE_SQLSTATES or NO_OVERLAP_CONSTRAINT in str(exc)


def ownership_take(
    *, manager: User, device: Device, serial_number: str, device_name: str
) -> DeviceOwnership:
    """`manager` becomes the owner of `device` from now on (an ongoing ownership).

    Both `serial_number` and `device_name` must match the device (proof of holding it; 400
    naming the field otherwise). 409 when anyone, the caller included, owns it now or later.
    The first ownership activates the device.
    """
    if not manager.is_manager:
        raise RuleViolation("Only managers can take ownership of a device.")
    if serial_number != device.serial_number:
        raise DomainError("The serial number does not match this device.", field="serial_number")
    if device_name != device.device_name:
        raise DomainError("The device name does not match this device.", field="device_name")
    try:
        with transaction.atomic():
            # Takes of one device queue on its row, so the check below sees the winner's
            # committed ownership and answers 409 itself. The exclusion constraint still stands
            # behind it for writers that do not come through here.
            Device.objects.select_for_update().only("pk").get(pk=device.pk)
            now = timezone.now()
            # Any period still running (or scheduled) at `now` would overlap [now, OPEN_END).
            if DeviceOwnership.objects.filter(device=device, end_time__gt=now).exists():
                raise Conflict("This device is already owned.")
            ownership = DeviceOwnership.objects.create(
                device=device, manager=manager, start_time=now, end_time=OPEN_END
            )
            device_activate(device=device, at=now)
    except (IntegrityError, OperationalError) as exc:
        if _lost_race(exc):
            raise Conflict("This device is already owned.") from None
        raise
    logger.info("device %s taken by manager %s", device.pk, manager.pk)
    return ownership


def ownership_release(*, manager: User, device: Device) -> DeviceOwnership:
    """End `manager`'s current ownership of `device` now.

    409 when nobody owns the device now (whoever asks), 403 for a past owner, 404 for a manager
    who never owned it. In the same transaction "ownership-ended" is announced, and timeframes
    react: his timeframes on the device that are running end now, those that have not started
    are deleted.
    """
    with transaction.atomic():
        # Every change of a device's ownership queues on the device row (see ownership_take).
        Device.objects.select_for_update().only("pk").get(pk=device.pk)
        now = timezone.now()
        current = ownerships_current(now).filter(device=device).first()
        if current is None:
            raise Conflict("Nobody owns this device.")
        if current.manager_id != manager.pk:
            if DeviceOwnership.objects.filter(
                device=device, manager=manager, start_time__lte=now
            ).exists():
                raise RuleViolation("Only the current owner of this device may release it.")
            raise NotFound("No device ownership of yours matches.")
        _end_ownership(current, at=now)
    logger.info("device %s released by manager %s", device.pk, manager.pk)
    return current


def ownerships_release_all(*, manager: User) -> int:
    """Release every device `manager` owns now (his account is being deleted); returns the count.

    Each release cuts his timeframes like `ownership_release`. Periods scheduled for him in the
    future (only admins create those) are deleted; they own nothing yet, so nothing is cut.
    """
    with transaction.atomic():
        owned = ownerships_current().filter(manager=manager).values("device_id")
        # Lock the devices as single releases do, in id order so two callers cannot deadlock;
        # `now` is read after the locks, so it is never older than a release that went first.
        list(Device.objects.select_for_update().filter(pk__in=owned).order_by("pk").values("pk"))
        now = timezone.now()
        DeviceOwnership.objects.filter(manager=manager, start_time__gt=now).delete()
        current = list(ownerships_current(now).filter(manager=manager))
        for ownership in current:
            _end_ownership(ownership, at=now)
    return len(current)


def _end_ownership(ownership: DeviceOwnership, *, at: datetime) -> None:
    """End `ownership` at `at`; announce that it no longer covers [at, its old end)."""
    until = ownership.end_time
    if at <= ownership.start_time:
        # Taken and released within the same clock tick: the period [start, start) is empty and
        # owned nothing, and an empty window would break the `end > start` constraint.
        ownership.end_time = ownership.start_time
        ownership.delete()
    else:
        ownership.end_time = at
        ownership.save(update_fields=["end_time"])
    _ended_announce(ownership, start=at, end=until)


def _ended_announce(ownership: DeviceOwnership, *, start: datetime, end: datetime) -> None:
    event_emit(
        OWNERSHIP_ENDED,
        user_id=ownership.manager_id,
        device_id=ownership.device_id,
        start=start,
        end=end,
    )


def ownership_period_check(
    *,
    device: Device,
    manager: User,
    start_time: datetime,
    end_time: datetime,
    exclude_pk: int | None = None,
) -> None:
    """Raise unless `manager` may own `device` over [start_time, end_time): he is a manager, the
    window is not empty and no other period of the device overlaps it. Read-only, so the admin
    form shows the same errors as `ownership_period_set` before saving."""
    if not manager.is_manager:
        raise DomainError("Only managers can own devices.", field="manager")
    if end_time <= start_time:
        raise DomainError("The end must be after the start.", field="end_time")
    clashes = DeviceOwnership.objects.filter(
        device=device, start_time__lt=end_time, end_time__gt=start_time
    ).exclude(pk=exclude_pk)
    if clashes.exists():
        raise Conflict("This period overlaps another ownership of the device.")


def ownership_period_set(
    *,
    ownership: DeviceOwnership | None,
    device: Device,
    manager: User,
    start_time: datetime,
    end_time: datetime,
) -> DeviceOwnership:
    """Record an ownership period by hand (admins: history, corrections): a new one when
    `ownership` is None, else the stored row of `ownership` changed to these values.

    Like every ownership change it queues on the device row(s); the period must pass
    `ownership_period_check` (the exclusion constraint settles races, 409); the device is
    activated from `start_time` the first time. Whatever the old period covered that the new
    one no longer gives its manager is announced as "ownership-ended", so his timeframes there
    are cut as at a release.
    """
    with transaction.atomic():
        device_ids = {device.pk} | ({ownership.device_id} if ownership else set())
        list(
            Device.objects.select_for_update().filter(pk__in=device_ids).order_by("pk").values("pk")
        )
        previous = DeviceOwnership.objects.get(pk=ownership.pk) if ownership else None
        ownership_period_check(
            device=device,
            manager=manager,
            start_time=start_time,
            end_time=end_time,
            exclude_pk=previous.pk if previous else None,
        )
        row = DeviceOwnership(
            pk=previous.pk if previous else None,
            device=device,
            manager=manager,
            start_time=start_time,
            end_time=end_time,
        )
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError as exc:
            if _lost_race(exc):
                raise Conflict("This period overlaps another ownership of the device.") from None
            raise
        device_activate(device=device, at=start_time)
        if previous is not None:
            for start, end in _windows_lost(previous, row):
                _ended_announce(previous, start=start, end=end)
    logger.info("ownership %s of device %s set by hand", row.pk, device.pk)
    return row


def _windows_lost(
    previous: DeviceOwnership, current: DeviceOwnership
) -> list[tuple[datetime, datetime]]:
    """The parts of `previous`'s window that `current` no longer gives the same manager on the
    same device (all of it when either changed)."""
    if (previous.device_id, previous.manager_id) != (current.device_id, current.manager_id):
        return [(previous.start_time, previous.end_time)]
    lost = []
    if current.start_time > previous.start_time:
        lost.append((previous.start_time, min(current.start_time, previous.end_time)))
    if current.end_time < previous.end_time:
        lost.append((max(current.end_time, previous.start_time), previous.end_time))
    return lost


def ownership_delete(*, ownership: DeviceOwnership) -> None:
    """Delete an ownership period by hand (admins). Its manager owned nothing over it then:
    "ownership-ended" is announced for its whole window, so his timeframes there go."""
    with transaction.atomic():
        Device.objects.select_for_update().only("pk").get(pk=ownership.device_id)
        ownership = DeviceOwnership.objects.get(pk=ownership.pk)
        _ended_announce(ownership, start=ownership.start_time, end=ownership.end_time)
        ownership.delete()
    logger.info("ownership of device %s deleted by hand", ownership.device_id)


# --- reactions to the events of lower apps (registered in DevicesConfig.ready) ----------------


def on_user_deleting(event: DomainEvent) -> None:
    """users' "user-deleting": a leaving manager's devices are released (SPEC §3)."""
    ownerships_release_all(manager=User.objects.get(pk=event.user_id))
