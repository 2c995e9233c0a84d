from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from users.models import AthleteProfile, Grant, ManagerProfile, User


class ManagerProfileInline(admin.StackedInline):
    model = ManagerProfile
    can_delete = False
    extra = 0


class AthleteProfileInline(admin.StackedInline):
    model = AthleteProfile
    fk_name = "user"
    can_delete = False
    extra = 0
    exclude = ["profile_picture"]
    raw_id_fields = ["managed_by"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "email", "role", "external_id", "is_active", "date_joined"]
    list_filter = ["role", "is_active", "is_superuser"]
    search_fields = ["username", "email", "external_id"]
    fieldsets = (
        (None, {"fields": ("username", "password", "role", "email", "external_id")}),
        (
            "Permissions",
            {
                "fields": ("is_active", "is_staff", "is_superuser", "user_permissions"),
                "description": "Grant “Can create managed athletes” to let a manager create "
                "athletes without a login of their own.",
            },
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "role", "email", "password1", "password2"),
            },
        ),
    )

    def get_inlines(self, request, obj):
        if obj is None:
            return []
        if obj.role == "MANAGER":
            return [ManagerProfileInline]
        if obj.role == "ATHLETE":
            return [AthleteProfileInline]
        return []


@admin.register(Grant)
class GrantAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "athlete",
        "manager",
        "permission",
        "start_time",
        "expiration_time",
        "granted_by",
        "derived_from",
    ]
    list_filter = ["permission"]
    search_fields = ["athlete__username", "manager__username", "granted_by__username"]
    raw_id_fields = ["athlete", "manager", "granted_by", "derived_from"]
    date_hierarchy = "start_time"
