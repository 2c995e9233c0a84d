import json

from rest_framework import serializers

from webhooks.models import Attempt, Delivery, Webhook
from webhooks.services import secret_mask

SECRET_TOKEN_MIN_LENGTH = 8


class JsonBooleanField(serializers.BooleanField):
    """Only JSON `true` / `false`: DRF's BooleanField would also take "yes", "on", 1 or "0"."""

    default_error_messages = {"invalid": "Must be a JSON boolean: true or false."}

    def to_internal_value(self, data: object) -> bool:
        if isinstance(data, bool):
            return data
        self.fail("invalid")


class StringOnly:
    """A text field that takes JSON strings only (DRF's CharField turns 17 into "17")."""

    def to_internal_value(self, data: object) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("Must be a string.", code="invalid")
        return super().to_internal_value(data)


class UrlField(StringOnly, serializers.CharField):
    pass


class TokenField(StringOnly, serializers.RegexField):
    pass


class WebhookSerializer(serializers.ModelSerializer):
    """SPEC §9 webhook representation (output); the secret token is masked."""

    secret_token = serializers.SerializerMethodField()

    class Meta:
        model = Webhook
        fields = [
            "id",
            "activity",
            "webhook_url",
            "secret_token",
            "activity_events",
            "timeframes_events",
            "is_active",
            "disabled_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_secret_token(self, webhook: Webhook) -> str:
        return secret_mask(webhook.secret_token)


class WebhookCreatedSerializer(WebhookSerializer):
    """The creation response: the representation plus the signing secret, shown this once."""

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "signing_secret"]
        read_only_fields = fields


class WebhookInputSerializer(serializers.Serializer):
    """Input of create/update. The URL rules (https, public address) are the service's."""

    webhook_url = UrlField(max_length=2048, trim_whitespace=False)
    secret_token = TokenField(
        r"^[\x21-\x7e]+$",
        min_length=SECRET_TOKEN_MIN_LENGTH,
        max_length=255,
        trim_whitespace=False,
        error_messages={
            "invalid": "Printable ASCII characters only, without spaces (it is sent in a header)."
        },
    )
    activity_events = JsonBooleanField(required=False, default=True)
    timeframes_events = JsonBooleanField(required=False, default=True)
    is_active = JsonBooleanField(
        required=False,
        help_text="Updates only: true re-enables a disabled webhook, false pauses it.",
    )


class SigningSecretSerializer(serializers.Serializer):
    signing_secret = serializers.CharField(read_only=True)


class DeliverySerializer(serializers.ModelSerializer):
    """One row of the delivery log."""

    payload = serializers.SerializerMethodField()

    class Meta:
        model = Delivery
        fields = [
            "id",
            "event",
            "message_id",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "last_attempt_at",
            "next_attempt_at",
            "delivered_at",
            "created_at",
            "payload",
        ]
        read_only_fields = fields

    def get_payload(self, delivery: Delivery) -> dict:
        return json.loads(delivery.body)


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = Attempt
        fields = ["at", "status_code", "duration_ms", "error"]
        read_only_fields = fields


class DeliveryDetailSerializer(DeliverySerializer):
    """One delivery with each of its attempts, oldest first."""

    attempt_log = AttemptSerializer(many=True, read_only=True, source="attempt_rows")

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "attempt_log"]
        read_only_fields = fields
