from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from devices.models import Device, DeviceOwnership


class DeviceSerializer(serializers.ModelSerializer):
    """SPEC §4 device representation (output)."""

    class Meta:
        model = Device
        fields = [
            "id",
            "device_name",
            "serial_number",
            "custom_name",
            "is_active",
            "activated_at",
            "created_at",
        ]
        read_only_fields = fields


class DeviceCreateSerializer(serializers.Serializer):
    """Input of `POST /devices/`; the rules (format, uniqueness) are `devices.services`'."""

    device_name = serializers.CharField(max_length=12)
    serial_number = serializers.CharField(max_length=64)
    custom_name = serializers.CharField(max_length=255, required=False, allow_blank=True)


class DeviceProofSerializer(serializers.Serializer):
    """Input of take-ownership: both identifiers printed on the device."""

    serial_number = serializers.CharField(max_length=64, trim_whitespace=True)
    device_name = serializers.CharField(max_length=12, trim_whitespace=True)


class CustomNameSerializer(serializers.Serializer):
    custom_name = serializers.CharField(max_length=255, allow_blank=True)


class DeviceDetailsSerializer(serializers.ModelSerializer):
    class Meta:
        model = Device
        fields = ["id", "device_name", "serial_number"]
        read_only_fields = fields


class DeviceOwnershipSerializer(serializers.ModelSerializer):
    """SPEC §4 ownership; an ongoing one ends at OPEN_END ("2999-12-31T23:59:59Z")."""

    device_details = DeviceDetailsSerializer(source="device", read_only=True)

    class Meta:
        model = DeviceOwnership
        fields = ["id", "device", "manager", "start_time", "end_time", "device_details"]
        read_only_fields = fields


# --- device data (SPEC §6): shapes for the OpenAPI document ----------------------------------------
# The views validate packets with devices.packets (vectorised) and build their answers directly;
# these serializers only describe those shapes to drf-spectacular.

SCALAR_OR_ARRAY = "A number with a scalar `timestamp`, or an array as long as `timestamp`."


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "format": "int64"},
            {"type": "array", "items": {"type": "integer", "format": "int64"}},
        ],
        "description": "Epoch milliseconds: one, or an array (sorted or not).",
    }
)
class TimestampsField(serializers.JSONField):
    pass


@extend_schema_field(
    {
        "oneOf": [{"type": "number"}, {"type": "array", "items": {"type": "number"}}],
        "description": SCALAR_OR_ARRAY,
    }
)
class ReadingsField(serializers.JSONField):
    pass


def _readings(minimum: float | None = None, maximum: float | None = None, **kwargs):
    return serializers.ListField(
        child=serializers.FloatField(min_value=minimum, max_value=maximum), **kwargs
    )


class GnssSerializer(serializers.Serializer):
    """GNSS fixes, always columnar: arrays of the length of `timestamp`."""

    timestamp = serializers.ListField(child=serializers.IntegerField())
    latitude = _readings(-90, 90)
    longitude = _readings(-180, 180)
    speed = _readings(0, 50, required=False, help_text="m/s, in [0, 50)")
    altitude = _readings(required=False, help_text="metres")


class EcgSerializer(serializers.Serializer):
    timestamp = TimestampsField()
    hr = ReadingsField(help_text="bpm, in [0, 255]")


class PwrSerializer(serializers.Serializer):
    timestamp = TimestampsField()
    pwr_cadence = ReadingsField(required=False)
    pwr_instantpower = ReadingsField(required=False)


class DeviceStatusSerializer(serializers.Serializer):
    timestamp = TimestampsField()
    standstill = ReadingsField(required=False)
    Bat_lvl = ReadingsField(required=False, help_text="percent, in [0, 100]")


@extend_schema_serializer(component_name="Packet")
class PacketSerializer(serializers.Serializer):
    """One device's readings, columnar (SPEC §6). Every channel is optional; a channel the server
    does not know, of the same shape (`timestamp` plus numeric fields), is accepted too."""

    device_name = serializers.RegexField(r"^[0-9a-f]{12}$")
    gnss = GnssSerializer(required=False)
    ecg = EcgSerializer(required=False)
    pwr = PwrSerializer(required=False)
    device = DeviceStatusSerializer(required=False)


class PacketsSerializer(serializers.Serializer):
    packets = serializers.ListField(child=PacketSerializer(), max_length=1000)


class IngestCountsSerializer(serializers.Serializer):
    packets = serializers.IntegerField(help_text="packets in the request")
    samples = serializers.IntegerField(help_text="samples newly stored")
    duplicates = serializers.IntegerField(help_text="samples already stored, ignored")


@extend_schema_field(
    {
        "type": "object",
        "properties": {"timestamp": {"type": "integer", "format": "int64"}},
        "required": ["timestamp"],
        "additionalProperties": {"type": "number"},
        "description": (
            'One timestamp (epoch ms) and the readings present at it, named "channel.field": '
            '`{"timestamp": 1597924127000, "gnss.latitude": 51.5, "ecg.hr": 159}`.'
        ),
    }
)
class PreprocessedRowField(serializers.JSONField):
    pass


class PreprocessedPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="distinct timestamps in [start, stop)")
    page = serializers.IntegerField()
    next = serializers.IntegerField(allow_null=True, help_text="next page number, or null")
    previous = serializers.IntegerField(allow_null=True)
    next_start = serializers.IntegerField(
        allow_null=True,
        help_text="the `start` (epoch ms) of the next page by key, or null on the last page",
    )
    results = serializers.ListField(child=PreprocessedRowField())


class RecordingRangeSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    stop = serializers.DateTimeField(help_text="exclusive: the last sample + 1 ms")


class RecordingRangesPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    next = serializers.IntegerField(allow_null=True)
    previous = serializers.IntegerField(allow_null=True)
    results = RecordingRangeSerializer(many=True)
