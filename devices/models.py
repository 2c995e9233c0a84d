from datetime import UTC, datetime

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q

# An ongoing ownership has this end (SPEC §4: shown as "2999-12-31T23:59:59Z"). A real value
# rather than NULL keeps every window comparison half-open and uniform: [start_time, end_time).
OPEN_END = datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC)

# Name of the PostgreSQL exclusion constraint of migration 0002 (no two periods of one device
# overlap); `devices.services` maps its violation to 409.
NO_OVERLAP_CONSTRAINT = "ownership_periods_no_overlap"

device_name_validator = RegexValidator(
    r"^[0-9a-f]{12}$", "A device name is 12 lowercase hexadecimal characters."
)


class Device(models.Model):
    device_name = models.CharField(max_length=12, unique=True, validators=[device_name_validator])
    serial_number = models.CharField(max_length=64, unique=True)
    custom_name = models.CharField(max_length=255, blank=True, default="")
    is_active = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.device_name} ({self.serial_number})"


class DeviceOwnership(models.Model):
    """A manager owns a device over [start_time, end_time); `end_time == OPEN_END` is ongoing.

    On PostgreSQL an exclusion constraint forbids overlapping periods of one device (so at most
    one ongoing ownership, whatever races); see the devices migrations.
    """

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="ownerships")
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="device_ownerships"
    )
    start_time = models.DateTimeField()
    end_time = models.DateTimeField(default=OPEN_END)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(end_time__gt=F("start_time")), name="ownership_window_not_empty"
            ),
        ]
        indexes = [
            models.Index(fields=["device", "start_time", "end_time"], name="ownership_lookup_idx"),
            models.Index(fields=["manager", "end_time"], name="ownership_manager_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.device_id} owned by {self.manager_id} [{self.start_time}, {self.end_time})"

    @property
    def is_ongoing(self) -> bool:
        return self.end_time >= OPEN_END


class SampleChannel(models.Model):
    """A channel of device samples (`gnss`, `ecg`, ...) and the names of its fields, in order.

    Append-only: a channel's `fields` only ever grow, so a stored chunk holding k value columns
    decodes with the first k names whatever was added since. Unknown channels of a valid shape
    are registered on first sight (SPEC §6). The samples themselves live in the raw,
    time-partitioned table `devices_sample` (see devices/samples.py and migration 0003).
    """

    id = models.SmallAutoField(primary_key=True)
    name = models.CharField(max_length=32, unique=True)
    fields = models.JSONField(default=list)

    def __str__(self) -> str:
        return self.name
