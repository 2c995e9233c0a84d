from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from asi_api.admin import DeletesThroughService
from asi_api.errors import DomainError
from webhooks import services
from webhooks.models import Attempt, Delivery, Webhook


@admin.register(Webhook)
class WebhookAdmin(DeletesThroughService, admin.ModelAdmin):
    """Webhooks are registered by their activity's owner through the API; here admins look,
    re-enable, pause and delete, all through the services."""

    list_display = [
        "id",
        "activity",
        "webhook_url",
        "is_active",
        "disabled_reason",
        "consecutive_failures",
        "created_at",
    ]
    list_filter = ["is_active", "activity_events", "timeframes_events", "created_at"]
    search_fields = ["webhook_url", "activity__name", "activity__owner__username"]
    list_select_related = ["activity"]
    raw_id_fields = ["activity"]
    fields = [
        "activity",
        "webhook_url",
        "masked_secret_token",
        "activity_events",
        "timeframes_events",
        "is_active",
        "disabled_reason",
        "consecutive_failures",
        "failing_since",
        "previous_signing_secret_expires_at",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields
    actions = ["enable", "disable"]

    @admin.display(description="secret token")
    def masked_secret_token(self, webhook: Webhook) -> str:
        return services.secret_mask(webhook.secret_token)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: Webhook) -> None:
        services.webhook_delete(webhook=obj)

    @admin.action(description="Re-enable the selected webhooks")
    def enable(self, request: HttpRequest, queryset: QuerySet[Webhook]) -> None:
        self._set_active(request, queryset, True)

    @admin.action(description="Pause (disable) the selected webhooks")
    def disable(self, request: HttpRequest, queryset: QuerySet[Webhook]) -> None:
        self._set_active(request, queryset, False)

    def _set_active(self, request: HttpRequest, queryset: QuerySet[Webhook], value: bool) -> None:
        for webhook in queryset:
            try:
                services.webhook_update(webhook=webhook, is_active=value)
            except DomainError as error:
                self.message_user(request, f"Webhook {webhook.pk}: {error}", messages.ERROR)


class AttemptInline(admin.TabularInline):
    model = Attempt
    fields = ["at", "webhook_url", "status_code", "duration_ms", "error", "response_excerpt"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """The delivery log of every webhook, including those whose webhook or activity is gone;
    read-only, with redelivery through the service."""

    list_display = [
        "id",
        "event",
        "status",
        "webhook",
        "activity_id",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status", "event", "created_at"]
    search_fields = ["message_id", "webhook_url", "=activity_id"]
    list_select_related = ["webhook"]
    date_hierarchy = "created_at"
    fields = [
        "webhook",
        "activity_id",
        "event",
        "message_id",
        "body",
        "webhook_url",
        "status",
        "attempts",
        "failures",
        "next_attempt_at",
        "enqueued_at",
        "last_attempt_at",
        "last_status_code",
        "last_error",
        "delivered_at",
        "created_at",
    ]
    readonly_fields = fields
    inlines = [AttemptInline]
    actions = ["redeliver"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False

    @admin.action(description="Redeliver the selected deliveries")
    def redeliver(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        for delivery in queryset:
            try:
                services.delivery_redeliver(delivery=delivery)
            except DomainError as error:
                self.message_user(request, f"Delivery {delivery.pk}: {error}", messages.ERROR)
