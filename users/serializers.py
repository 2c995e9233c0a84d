"""SPEC §3 representations (output) and the shapes of request bodies (input).

Input serializers check the *shape* of a request (types, choices, e-mail syntax, the picture);
rules such as unique usernames, password strength and grant windows live in `users.services`.
"""

import base64
import binascii
import io
from datetime import date
from typing import Any

from django.contrib.auth.validators import UnicodeUsernameValidator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from PIL import Image, UnidentifiedImageError
from rest_framework import serializers

from users.models import (
    ATHLETE_PROFILE_FIELDS,
    MANAGER_PROFILE_FIELDS,
    AthletePermission,
    AthleteProfile,
    ManagerProfile,
    PermissionKind,
    User,
)

PICTURE_MAX_BYTES = 1024 * 1024
PICTURE_FORMATS = {"PNG", "JPEG"}


@extend_schema_field(OpenApiTypes.BYTE)
class ProfilePictureField(serializers.Field):
    """A PNG or JPEG image of at most 1 MiB, base64 in and out; stored as bytes.

    A `data:image/...;base64,` prefix is accepted on input. `null` removes the picture.
    """

    default_error_messages = {
        "type": "Expected a base64 string.",
        "base64": "Not valid base64.",
        "size": f"The decoded picture is larger than {PICTURE_MAX_BYTES} bytes (1 MiB).",
        "image": "Not a PNG or JPEG image.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_representation(self, value: bytes | memoryview | None) -> str | None:
        if value is None:
            return None
        return base64.b64encode(bytes(value)).decode("ascii")

    def to_internal_value(self, data: Any) -> bytes:
        if not isinstance(data, str):
            self.fail("type")
        if data.startswith("data:") and "," in data:
            data = data.split(",", 1)[1]
        # Reject absurd inputs before decoding: base64 is 4/3 of the decoded size.
        if len(data) > (PICTURE_MAX_BYTES * 4) // 3 + 8:
            self.fail("size")
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            self.fail("base64")
        if len(raw) > PICTURE_MAX_BYTES:
            self.fail("size")
        try:
            with Image.open(io.BytesIO(raw)) as image:
                image_format = image.format
                image.verify()  # reads the whole file: catches truncated or corrupt data
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            self.fail("image")
        if image_format not in PICTURE_FORMATS:
            self.fail("image")
        return raw


class ManagerProfileSerializer(serializers.ModelSerializer):
    class Meta:
        model = ManagerProfile
        fields = list(MANAGER_PROFILE_FIELDS)


class AthleteProfileSerializer(serializers.ModelSerializer):
    profile_picture = ProfilePictureField()

    class Meta:
        model = AthleteProfile
        fields = list(ATHLETE_PROFILE_FIELDS)
        extra_kwargs = {
            "weight": {"min_value": 1, "max_value": 500},  # kg
            "height": {"min_value": 0.3, "max_value": 3},  # m
            "max_heart_rate": {"min_value": 60, "max_value": 260},  # bpm
            "resting_heart_rate": {"min_value": 20, "max_value": 200},  # bpm
        }

    def validate_birth_date(self, value: date | None) -> date | None:
        if value is not None and value > date.today():
            raise serializers.ValidationError("The birth date is in the future.")
        return value


class ManagerSerializer(serializers.ModelSerializer):
    """A manager: `{"id", "username", "email", "external_id", "manager_profile"}`."""

    manager_profile = ManagerProfileSerializer(read_only=True, allow_null=True)

    class Meta:
        model = User
        fields = ["id", "username", "email", "external_id", "manager_profile"]
        read_only_fields = fields


class ManagerPublicSerializer(serializers.ModelSerializer):
    """What anyone authenticated learns by looking a manager up by username."""

    manager_profile = ManagerProfileSerializer(read_only=True, allow_null=True)

    class Meta:
        model = User
        fields = ["id", "username", "manager_profile"]
        read_only_fields = fields


class AthleteSerializer(serializers.ModelSerializer):
    """An athlete: `{"id", "username", "email", "external_id", "managed_by", "athlete_profile"}`.

    `email` is absent for managed athletes (they have none); `managed_by` is a manager id or null.
    """

    managed_by = serializers.IntegerField(
        source="athlete_profile.managed_by_id", read_only=True, allow_null=True
    )
    athlete_profile = AthleteProfileSerializer(read_only=True, allow_null=True)

    class Meta:
        model = User
        fields = ["id", "username", "email", "external_id", "managed_by", "athlete_profile"]
        read_only_fields = fields

    def to_representation(self, instance: User) -> dict[str, Any]:
        data = super().to_representation(instance)
        if data.get("managed_by") is not None:
            data.pop("email", None)
        return data


class AccountSerializer(serializers.ModelSerializer):
    """The caller's own user, with `role` and `extra_permissions` (SPEC §3 Account).

    Managers carry `manager_profile`; athletes `managed_by` and `athlete_profile`; admins
    neither (the fields a role lacks are left out).
    """

    role = serializers.SerializerMethodField()
    extra_permissions = serializers.SerializerMethodField()
    manager_profile = ManagerProfileSerializer(read_only=True, required=False)
    managed_by = serializers.IntegerField(
        source="athlete_profile.managed_by_id", read_only=True, required=False
    )
    athlete_profile = AthleteProfileSerializer(read_only=True, required=False)

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "external_id",
            "role",
            "extra_permissions",
            "manager_profile",
            "managed_by",
            "athlete_profile",
        ]
        read_only_fields = fields

    def to_representation(self, instance: User) -> dict[str, Any]:
        data = super().to_representation(instance)
        # A role's profile only: a user whose role changed in the admin keeps an old profile row.
        if not instance.is_manager:
            data.pop("manager_profile", None)
        if not instance.is_athlete:
            data.pop("managed_by", None)
            data.pop("athlete_profile", None)
        return data

    def get_role(self, user: User) -> str:
        return "ADMIN" if user.is_admin else user.role

    def get_extra_permissions(self, user: User) -> list[str]:
        # Listed only where the API honours it: managed athletes are created by managers.
        if user.is_manager and user.has_perm("users.can_create_managed_athletes"):
            return ["can_create_managed_athletes"]
        return []


# --- input ----------------------------------------------------------------------------------


def _username_field(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(max_length=150, validators=[UnicodeUsernameValidator()], **kwargs)


class _RegistrationSerializer(serializers.Serializer):
    username = _username_field()
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(
        write_only=True, required=False, trim_whitespace=False, max_length=128
    )
    external_id = serializers.CharField(
        max_length=255, required=False, allow_blank=True, default=""
    )


class ManagerRegistrationSerializer(_RegistrationSerializer):
    """`POST /managers/`: `{"username", "email", "password"?, "external_id"?, "manager_profile"}`."""

    manager_profile = ManagerProfileSerializer(required=False)


class AthleteRegistrationSerializer(_RegistrationSerializer):
    """`POST /athletes/`: `{"username", "email", "password"?, "external_id"?, "athlete_profile"}`."""

    athlete_profile = AthleteProfileSerializer(required=False)


class ManagedAthleteCreateSerializer(serializers.Serializer):
    """`POST /athletes/create-managed/`: `{"username", "external_id"?, "athlete_profile"}`.

    A managed athlete has neither e-mail nor password: sending one is an error, not ignored.
    """

    username = _username_field()
    external_id = serializers.CharField(
        max_length=255, required=False, allow_blank=True, default=""
    )
    athlete_profile = AthleteProfileSerializer(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors = {}
        for field in ("email", "password"):
            if self.initial_data.get(field):
                errors[field] = [
                    "Managed athletes have no e-mail or password (they cannot log in)."
                ]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class _UserUpdateSerializer(serializers.Serializer):
    username = _username_field(required=False)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    external_id = serializers.CharField(max_length=255, required=False, allow_blank=True)


class ManagerUpdateSerializer(_UserUpdateSerializer):
    manager_profile = ManagerProfileSerializer(required=False)


class AthleteUpdateSerializer(_UserUpdateSerializer):
    athlete_profile = AthleteProfileSerializer(required=False)


class AdminUpdateSerializer(_UserUpdateSerializer):
    pass


class PasswordChangeSerializer(serializers.Serializer):
    old_password = serializers.CharField(trim_whitespace=False, max_length=128)
    new_password = serializers.CharField(trim_whitespace=False, max_length=128)


class PermissionSerializer(serializers.ModelSerializer):
    """A grant: `{"id", "athlete", "manager", "permission", "start_time", "expiration_time",
    "granted_by", "derived_from"}` (`derived_from`: the SHARE grant's id, or null)."""

    class Meta:
        model = AthletePermission
        fields = [
            "id",
            "athlete",
            "manager",
            "permission",
            "start_time",
            "expiration_time",
            "granted_by",
            "derived_from",
        ]
        read_only_fields = fields


class PermissionCreateSerializer(serializers.Serializer):
    permission = serializers.ChoiceField(choices=PermissionKind.choices)
    start_time = serializers.DateTimeField()
    expiration_time = serializers.DateTimeField()


class PermissionUpdateSerializer(serializers.Serializer):
    start_time = serializers.DateTimeField(required=False)
    expiration_time = serializers.DateTimeField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError(
                "Give start_time and/or expiration_time: only the window of a grant changes."
            )
        return attrs
