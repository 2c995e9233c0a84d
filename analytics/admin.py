import json

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from analytics.models import ComputedData
from analytics.tasks import timeframe_recompute_task
from asi_api.scheduling import enqueue_on_commit


@admin.register(ComputedData)
class ComputedDataAdmin(admin.ModelAdmin):
    """The stored results, read-only: they are written by the analytics services only; an
    admin asks for a recompute (the same task the domain events enqueue)."""

    list_display = [
        "timeframe_id",
        "athlete",
        "activity",
        "status",
        "revision",
        "computed_at",
        "dirty",
        "next_run_at",
    ]
    list_filter = ["status", "dirty", "computed_at"]
    search_fields = [
        "=timeframe__id",
        "timeframe__athlete__username",
        "timeframe__athlete__athlete_profile__first_name",
        "timeframe__athlete__athlete_profile__last_name",
        "timeframe__activity__name",
    ]
    list_select_related = ["timeframe__athlete", "timeframe__activity"]
    ordering = ["-computed_at", "-timeframe_id"]
    fields = [
        "timeframe",
        "status",
        "revision",
        "computed_at",
        "recomputed_at",
        "dirty",
        "pending_from",
        "next_run_at",
        "document",
    ]
    readonly_fields = fields
    actions = ["recompute_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ComputedData]:
        # The engine state can be large and means nothing to a reader: never loaded here.
        return super().get_queryset(request).defer("state")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ComputedData | None = None) -> bool:
        return False  # read-only: the change page still shows everything

    def has_delete_permission(self, request: HttpRequest, obj: ComputedData | None = None) -> bool:
        return False

    @admin.display(ordering="timeframe__athlete__username")
    def athlete(self, obj: ComputedData) -> str:
        return obj.timeframe.athlete.username

    @admin.display(ordering="timeframe__activity__name")
    def activity(self, obj: ComputedData) -> str:
        return obj.timeframe.activity.name

    @admin.display(description="document")
    def document(self, obj: ComputedData) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.data, indent=2))

    @admin.action(description="Recompute selected computed data from stored samples")
    def recompute_selected(self, request: HttpRequest, queryset: QuerySet[ComputedData]) -> None:
        ids = list(queryset.values_list("timeframe_id", flat=True))
        for timeframe_id in ids:
            enqueue_on_commit(timeframe_recompute_task, timeframe_id)
        self.message_user(
            request, f"{len(ids)} recomputes enqueued (one task each).", messages.SUCCESS
        )
