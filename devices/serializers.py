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
