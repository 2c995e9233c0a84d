from rest_framework import serializers

from activities.models import Activity, JsonSchema
from activities.serializers import ActivitySerializer
from asi_api.fields import IdRelatedField, QueryBooleanField
from devices.models import Device
from devices.serializers import DeviceSerializer
from timeframes.models import Timeframe
from users.models import User
from users.serializers import AthleteSerializer

# `?with_<x>=true` → the `<x>_details` field embedded in list and detail responses (SPEC §5).
EMBEDS = {
    "with_device": "device_details",
    "with_athlete": "athlete_details",
    "with_activity": "activity_details",
}


class TimeframeSerializer(serializers.ModelSerializer):
    """SPEC §5 representation (output). The `*_details` fields appear only when the view's
    context lists their `with_*` flag in `embed`; the view then `select_related`s their rows,
    so a page costs the same number of queries whatever its size."""

    device_details = DeviceSerializer(source="device", read_only=True)
    athlete_details = AthleteSerializer(source="athlete", read_only=True)
    activity_details = ActivitySerializer(source="activity", read_only=True)

    class Meta:
        model = Timeframe
        fields = [
            "id",
            "start_time",
            "end_time",
            "params",
            "device",
            "activity",
            "athlete",
            "owner",
            "json_schema",
            "created_at",
            "updated_at",
            *EMBEDS.values(),
        ]
        read_only_fields = fields

    def get_fields(self) -> dict:
        fields = super().get_fields()
        embed = self.context.get("embed", ())
        for flag, name in EMBEDS.items():
            if flag not in embed:
                fields.pop(name)
        return fields


class TimeframeInputSerializer(serializers.Serializer):
    """Input of POST/PUT/PATCH. Shapes and ids only (unknown ids → 400); every rule of SPEC §5
    is `timeframes.services`'. Omitted `params` is `{}` and omitted `json_schema` the shipped
    analytics-parameters schema on create; on update an omitted field keeps its value."""

    start_time = serializers.DateTimeField()
    end_time = serializers.DateTimeField()
    params = serializers.JSONField(required=False)
    device = IdRelatedField(queryset=Device.objects.all())
    activity = IdRelatedField(queryset=Activity.objects.all())
    athlete = IdRelatedField(queryset=User.objects.athletes())
    owner = IdRelatedField(queryset=User.objects.managers(), required=False)
    json_schema = IdRelatedField(queryset=JsonSchema.objects.all(), required=False)

    def validate_params(self, value: object) -> object:
        if not isinstance(value, dict):
            raise serializers.ValidationError("params must be a JSON object.")
        return value


class EmbedQuerySerializer(serializers.Serializer):
    """`?with_device=` / `?with_athlete=` / `?with_activity=`: booleans, read like every boolean
    filter (asi_api.fields.bool_parse; malformed → 400)."""

    with_device = QueryBooleanField(required=False, default=False)
    with_athlete = QueryBooleanField(required=False, default=False)
    with_activity = QueryBooleanField(required=False, default=False)
