from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from activities.models import Activity
from asi_api.permissions import IsManagerOrAdmin, TokenHasRequiredScopes
from webhooks import services
from webhooks.models import Delivery, Webhook
from webhooks.selectors import activity_for_webhooks, deliveries_of, webhooks_of
from webhooks.serializers import (
    DeliveryDetailSerializer,
    DeliverySerializer,
    SigningSecretSerializer,
    WebhookCreatedSerializer,
    WebhookInputSerializer,
    WebhookSerializer,
)


class ManagesWebhooks(IsManagerOrAdmin):
    message = "Only managers (and admins) manage webhooks."


ACTIVITY_PARAMETER = OpenApiParameter(
    "activity_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The activity's id."
)
WEBHOOK_PARAMETER = OpenApiParameter(
    "webhook_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The webhook's id."
)


class ActivityWebhooksMixin:
    """The activity of the URL, reached through the one access rule: its owner and admins manage
    its webhooks; for anyone else it is a 404, whatever else he may see of it."""

    required_scopes = ["all"]
    permission_classes = [TokenHasRequiredScopes, ManagesWebhooks]
    lookup_value_regex = r"[0-9]+"

    @property
    def activity(self) -> Activity:
        if not hasattr(self, "_activity"):
            activity = activity_for_webhooks(self.request.user, int(self.kwargs["activity_id"]))
            if activity is None:
                raise Http404
            self._activity = activity
        return self._activity


@extend_schema_view(
    create=extend_schema(request=WebhookInputSerializer, responses={201: WebhookCreatedSerializer}),
    update=extend_schema(request=WebhookInputSerializer, responses=WebhookSerializer),
    partial_update=extend_schema(request=WebhookInputSerializer, responses=WebhookSerializer),
)
@extend_schema(tags=["webhooks"], parameters=[ACTIVITY_PARAMETER])
class WebhookViewSet(
    ActivityWebhooksMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    GenericViewSet,
):
    """Webhooks of an activity (SPEC §9): its owner (and admins) register, change, delete,
    rotate the signing secret and ping them."""

    queryset = Webhook.objects.none()  # for the OpenAPI generator; get_queryset decides
    serializer_class = WebhookSerializer
    ordering_fields = ["id", "created_at"]
    ordering = ["id"]

    def get_queryset(self) -> QuerySet[Webhook]:
        return webhooks_of(self.activity)

    def create(self, request: Request, *args, **kwargs) -> Response:
        data = WebhookInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = {k: v for k, v in data.validated_data.items() if k != "is_active"}
        webhook = services.webhook_create(activity=self.activity, **fields)
        return Response(WebhookCreatedSerializer(webhook).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args, partial: bool = False, **kwargs) -> Response:
        webhook = self.get_object()
        data = WebhookInputSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        webhook = services.webhook_update(webhook=webhook, **data.validated_data)
        return Response(WebhookSerializer(webhook).data)

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        services.webhook_delete(webhook=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=SigningSecretSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-signing-secret")
    def rotate_signing_secret(self, request: Request, *args, **kwargs) -> Response:
        """A new signing secret, shown once; the previous one also signs for 24 hours."""
        secret = services.webhook_signing_secret_rotate(webhook=self.get_object())
        return Response({"signing_secret": secret})

    @extend_schema(request=None, responses=DeliverySerializer)
    @action(detail=True, methods=["post"])
    def ping(self, request: Request, *args, **kwargs) -> Response:
        """Send a `ping` event now (one attempt, up to 10 s); the answer is its delivery."""
        delivery = services.webhook_ping(webhook=self.get_object())
        services.delivery_attempt(delivery_id=delivery.pk)
        delivery.refresh_from_db()
        return Response(DeliverySerializer(delivery).data)


@extend_schema(tags=["webhooks"], parameters=[ACTIVITY_PARAMETER, WEBHOOK_PARAMETER])
class DeliveryViewSet(
    ActivityWebhooksMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet
):
    """The delivery log of a webhook, newest first; one delivery with its attempts; redelivery."""

    queryset = Delivery.objects.none()  # for the OpenAPI generator; get_queryset decides
    serializer_class = DeliverySerializer
    ordering_fields = ["id", "created_at"]
    ordering = ["-id"]

    @property
    def webhook(self) -> Webhook:
        if not hasattr(self, "_webhook"):
            webhook_id = int(self.kwargs["webhook_id"])
            webhook = webhooks_of(self.activity).filter(pk=webhook_id).first()
            if webhook is None:
                raise Http404
            self._webhook = webhook
        return self._webhook

    def get_queryset(self) -> QuerySet[Delivery]:
        return deliveries_of(self.webhook)

    def get_serializer_class(self) -> type[DeliverySerializer]:
        return DeliveryDetailSerializer if self.action == "retrieve" else DeliverySerializer

    @extend_schema(request=None, responses={202: DeliverySerializer})
    @action(detail=True, methods=["post"])
    def redeliver(self, request: Request, *args, **kwargs) -> Response:
        """Send the delivery again (same `webhook-id` and body), now and on the retry schedule."""
        delivery = services.delivery_redeliver(delivery=self.get_object())
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
