from rest_framework import serializers

from activities.models import Activity, JsonSchema, SchemaType
from asi_api.fields import IdRelatedField
from users.models import User


class JsonSchemaSerializer(serializers.ModelSerializer):
    """SPEC §5 JSON schema representation (output)."""

    class Meta:
        model = JsonSchema
        fields = ["id", "name", "type", "version", "parent", "schema", "created_at"]
        read_only_fields = fields


class JsonSchemaCreateSerializer(serializers.Serializer):
    """Input of `POST /json-schemas/`: `name` + `type` for a new schema, or `parent` for the next
    version of an existing one. The rules (draft 2020-12 validity, versions) are the service's.
    """

    name = serializers.CharField(max_length=255, required=False)
    type = serializers.ChoiceField(choices=SchemaType.choices, required=False)
    parent = IdRelatedField(queryset=JsonSchema.objects.all(), required=False, allow_null=True)
    schema = serializers.JSONField()


class ActivitySerializer(serializers.ModelSerializer):
    """SPEC §5 activity representation (output; also embedded as timeframes' `activity_details`)."""

    class Meta:
        model = Activity
        fields = ["id", "name", "json", "json_schema", "owner", "created_at", "updated_at"]
        read_only_fields = fields


class ActivityInputSerializer(serializers.Serializer):
    """Input of create/update; `owner` and `json` rules are `activities.services`'."""

    name = serializers.CharField(max_length=255)
    json = serializers.JSONField()
    json_schema = IdRelatedField(queryset=JsonSchema.objects.all())
    owner = IdRelatedField(queryset=User.objects.all(), required=False)
