from django.db import models
from django.db.models import Q


class ComputedData(models.Model):
    """The stored SPEC §7 result of one timeframe, and the bookkeeping of how it is kept fresh.

    `data` is the served document (metrics plus `metric_version`, `params`, `status`,
    `revision`, `computed_at`); `status`, `revision` and `computed_at` are mirrored as columns
    for queries. `revision` grows by one on every stored change (`services.timeframe_recompute`
    stores nothing when a recompute changes nothing). `state`, `dirty` and `next_run_at` belong
    to the live path (ARCHITECTURE.md data flow): the incremental engine state, "late data
    arrived, recompute", and when the sweep should next look at the row (finalisation, dirty
    recompute, a coalesced live update).
    """

    class Status(models.TextChoices):
        LIVE = "live"
        FINAL = "final"

    timeframe = models.OneToOneField(
        "timeframes.Timeframe",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="computed",
    )
    data = models.JSONField(default=dict)
    status = models.CharField(max_length=5, choices=Status.choices, default=Status.LIVE)
    revision = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField(null=True, blank=True)
    # The live path's engine state (`services._state_dump`: `MetricsState.to_dict()` and the
    # digest of the stored metrics, as zlib-compressed JSON); None = rebuild from storage.
    # Bytes, not jsonb: ~125 KiB of JSON at minute 90 (~30 KiB compressed), rewritten every
    # second, never queried inside.
    state = models.BinaryField(null=True, blank=True)
    dirty = models.BooleanField(default=False)
    next_run_at = models.DateTimeField(null=True, blank=True)
    # The earliest timestamp (epoch ms) of samples announced but not absorbed yet: the live
    # update that was coalesced away reads from here (services.timeframe_live_update).
    pending_from = models.BigIntegerField(null=True, blank=True)
    # When the last full recompute ran: late data recomputes at most every DIRTY_INTERVAL.
    recomputed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "computed data"
        indexes = [
            # The sweep asks "which rows are due": only the few with a due time are indexed.
            models.Index(
                fields=["next_run_at"],
                name="computed_due_idx",
                condition=Q(next_run_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"computed data of timeframe {self.timeframe_id} (r{self.revision}, {self.status})"
