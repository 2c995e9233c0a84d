from django.conf import settings
from django.db import models
from django.db.models import F, Q

# Name of the PostgreSQL exclusion constraint (see migration 0002): services map its violation,
# raised when two writers race past the overlap check, to 409.
NO_OVERLAP_CONSTRAINT = "timeframe_device_no_overlap"


class Timeframe(models.Model):
    """An athlete wearing a device for an activity over the half-open window [start_time, end_time).

    The rules of SPEC §5 (owner owns the activity, holds WRITE over the span, owns the device over
    the span, no overlap on the device) are checked by `timeframes.services`; the overlap rule is
    also a database constraint on PostgreSQL, so racing writers cannot both win.
    """

    start_time = models.DateTimeField()
    end_time = models.DateTimeField()
    params = models.JSONField(default=dict, blank=True)
    # PROTECT: deleting a device must not silently drop timeframes (and their analytics) without
    # the timeframe-deleted events that only the services send.
    device = models.ForeignKey(
        "devices.Device", on_delete=models.PROTECT, related_name="timeframes"
    )
    activity = models.ForeignKey(
        "activities.Activity", on_delete=models.CASCADE, related_name="timeframes"
    )
    athlete = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="timeframes"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="owned_timeframes"
    )
    json_schema = models.ForeignKey(
        "activities.JsonSchema", on_delete=models.PROTECT, related_name="timeframes"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(end_time__gt=F("start_time")), name="timeframe_window_not_empty"
            ),
        ]
        indexes = [
            # Overlap checks and "timeframes covering these samples" (analytics) by device.
            models.Index(fields=["device", "start_time", "end_time"], name="timeframe_device_idx"),
            models.Index(fields=["athlete", "start_time"], name="timeframe_athlete_idx"),
            models.Index(fields=["owner", "start_time"], name="timeframe_owner_idx"),
        ]

    def __str__(self) -> str:
        return (
            f"timeframe {self.pk}: athlete {self.athlete_id} on device {self.device_id} "
            f"[{self.start_time}, {self.end_time})"
        )
