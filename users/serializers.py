from rest_framework import serializers

from users.models import User


class AccountSerializer(serializers.ModelSerializer):
    """The caller's own user, with `role` and `extra_permissions` (SPEC §3 Account)."""

    role = serializers.SerializerMethodField()
    extra_permissions = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "email", "external_id", "role", "extra_permissions"]
        read_only_fields = fields

    def get_role(self, user: User) -> str:
        return "ADMIN" if user.is_admin else user.role

    def get_extra_permissions(self, user: User) -> list[str]:
        if user.is_admin or user.has_perm("users.can_create_managed_athletes"):
            return ["can_create_managed_athletes"]
        return []
