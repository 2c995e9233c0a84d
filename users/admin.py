"""Django admin for users, profiles and athlete permissions (SPEC §10): who granted what to
whom, when, and derived from what, readable without knowing the code. Writes on permissions and
account deletions go through `users.services`, so the admin obeys the same rules as the API."""

import base64

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from asi_api.admin import DeletesThroughService, form_error_add
from asi_api.errors import DomainError
from asi_api.events import event_emit
from users import services
from users.events import ATHLETE_METRIC_FIELDS, ATHLETE_PROFILE_UPDATED
from users.models import (
    ATHLETE_PROFILE_FIELDS,
    AthletePermission,
    AthleteProfile,
    ManagerProfile,
    User,
)
from users.serializers import PICTURE_MAX_BYTES, ProfilePictureField


def _picture_preview(profile: AthleteProfile | None) -> str:
    if profile is None or not profile.profile_picture:
        return "—"
    encoded = base64.b64encode(bytes(profile.profile_picture)).decode("ascii")
    return format_html(
        '<img src="data:image/*;base64,{}" style="max-height:120px;max-width:120px">', encoded
    )


class AthleteProfileForm(forms.ModelForm):
    """Upload a picture as a file; it is checked like the API's base64 one (PNG/JPEG ≤ 1 MiB)."""

    picture_upload = forms.FileField(
        required=False, label="New profile picture", help_text="PNG or JPEG, at most 1 MiB."
    )
    picture_clear = forms.BooleanField(required=False, label="Remove the profile picture")

    class Meta:
        model = AthleteProfile
        # The picture is uploaded as a file (above), not edited as bytes.
        fields = [
            "user",
            *(name for name in ATHLETE_PROFILE_FIELDS if name != "profile_picture"),
            "managed_by",
        ]

    def clean_picture_upload(self):
        upload = self.cleaned_data.get("picture_upload")
        if not upload:
            return None
        if upload.size > PICTURE_MAX_BYTES:
            raise forms.ValidationError("The picture is larger than 1 MiB.")
        encoded = base64.b64encode(upload.read()).decode("ascii")
        try:
            return ProfilePictureField().to_internal_value(encoded)
        except Exception as exc:  # DRF ValidationError: re-raise as a form error
            raise forms.ValidationError(str(getattr(exc, "detail", [exc])[0])) from None

    def save(self, commit: bool = True) -> AthleteProfile:
        profile = super().save(commit=False)
        if self.cleaned_data.get("picture_clear"):
            profile.profile_picture = None
        elif self.cleaned_data.get("picture_upload"):
            profile.profile_picture = self.cleaned_data["picture_upload"]
        if commit:
            profile.save()
        if self.instance.pk and set(self.changed_data) & set(ATHLETE_METRIC_FIELDS):
            # Like users.services.user_update: analytics recomputes this athlete's timeframes
            # (its reaction runs after the admin's transaction commits).
            event_emit(ATHLETE_PROFILE_UPDATED, user_id=profile.user_id)
        return profile


class ManagerProfileInline(admin.StackedInline):
    model = ManagerProfile
    can_delete = False
    extra = 0


class AthleteProfileInline(admin.StackedInline):
    model = AthleteProfile
    form = AthleteProfileForm
    fk_name = "user"
    can_delete = False
    extra = 0
    raw_id_fields = ["managed_by"]
    readonly_fields = ["picture"]

    @admin.display(description="Profile picture")
    def picture(self, profile: AthleteProfile) -> str:
        return _picture_preview(profile)


class _PermissionInline(admin.TabularInline):
    model = AthletePermission
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["permission", "athlete", "manager", "start_time", "expiration_time", "granted_by"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class PermissionsGivenInline(_PermissionInline):
    fk_name = "athlete"
    verbose_name_plural = "Permissions given (as athlete)"


class PermissionsReceivedInline(_PermissionInline):
    fk_name = "manager"
    verbose_name_plural = "Permissions received (as manager)"


@admin.register(User)
class UserAdmin(DeletesThroughService, DjangoUserAdmin):
    list_display = ["username", "email", "role", "external_id", "is_active", "date_joined"]
    list_filter = ["role", "is_active", "is_superuser"]
    search_fields = ["username", "email", "external_id"]
    fieldsets = (
        (None, {"fields": ("username", "password", "role", "email", "external_id")}),
        (
            "Permissions",
            {
                "fields": ("is_active", "is_staff", "is_superuser", "user_permissions"),
                "description": "Grant “users | user | Can create managed athletes” to let a "
                "manager create athletes without a login of their own.",
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
        if obj.is_manager:
            return [ManagerProfileInline, PermissionsReceivedInline]
        if obj.is_athlete:
            return [AthleteProfileInline, PermissionsGivenInline]
        return []

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        # An account added here gets its role's profile, like one registered through the API.
        services.profile_ensure(user=obj)

    def delete_model(self, request, obj: User) -> None:
        # Through the service, like an account deletion: a manager's devices are released and
        # his activities deleted with their events recorded; an athlete's timeframes announce
        # their deletion.
        services.user_delete(actor=request.user, user=obj)


@admin.register(ManagerProfile)
class ManagerProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "first_name", "last_name"]
    search_fields = ["user__username", "first_name", "last_name", "user__email"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]


@admin.register(AthleteProfile)
class AthleteProfileAdmin(admin.ModelAdmin):
    form = AthleteProfileForm
    list_display = ["user", "first_name", "last_name", "gender", "birth_date", "managed_by"]
    list_filter = ["gender", ("managed_by", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__username", "first_name", "last_name", "user__email"]
    list_select_related = ["user", "managed_by"]
    raw_id_fields = ["user", "managed_by"]
    readonly_fields = ["picture"]

    @admin.display(description="Profile picture")
    def picture(self, profile: AthleteProfile) -> str:
        return _picture_preview(profile)


class ActiveNowFilter(admin.SimpleListFilter):
    title = "active now"
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return [("yes", "Active now"), ("future", "Not started yet"), ("past", "Ended")]

    def queryset(
        self, request, queryset: QuerySet[AthletePermission]
    ) -> QuerySet[AthletePermission]:
        now = timezone.now()
        if self.value() == "yes":
            return queryset.filter(start_time__lte=now, expiration_time__gt=now)
        if self.value() == "future":
            return queryset.filter(start_time__gt=now)
        if self.value() == "past":
            return queryset.filter(expiration_time__lte=now)
        return queryset


class DerivedFilter(admin.SimpleListFilter):
    title = "origin"
    parameter_name = "derived"

    def lookups(self, request, model_admin):
        return [("no", "Given by the athlete or an admin"), ("yes", "Shared under a SHARE grant")]

    def queryset(
        self, request, queryset: QuerySet[AthletePermission]
    ) -> QuerySet[AthletePermission]:
        if self.value() in ("yes", "no"):
            return queryset.filter(derived_from__isnull=self.value() == "no")
        return queryset


class AthletePermissionAdminForm(forms.ModelForm):
    class Meta:
        model = AthletePermission
        fields = ["athlete", "manager", "permission", "start_time", "expiration_time"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "athlete" in self.fields:
            self.fields["athlete"].queryset = User.objects.athletes()
            self.fields["manager"].queryset = User.objects.managers()

    def clean(self):
        data = super().clean()
        start, end = data.get("start_time"), data.get("expiration_time")
        if start and end:
            derived_from = self.instance.derived_from if self.instance.pk else None
            try:
                services.permission_window_check(
                    start_time=start, expiration_time=end, derived_from=derived_from
                )
            except DomainError as error:
                form_error_add(self, error)
        return data


@admin.register(AthletePermission)
class AthletePermissionAdmin(admin.ModelAdmin):
    form = AthletePermissionAdminForm
    list_display = [
        "id",
        "athlete",
        "permission",
        "manager",
        "start_time",
        "expiration_time",
        "active_now",
        "granted_by",
        "derived_from",
        "created_at",
    ]
    list_filter = ["permission", ActiveNowFilter, DerivedFilter]
    search_fields = ["athlete__username", "manager__username", "granted_by__username"]
    list_select_related = ["athlete", "manager", "granted_by", "derived_from"]
    raw_id_fields = ["athlete", "manager"]
    readonly_fields = ["granted_by", "derived_from", "created_at"]
    date_hierarchy = "start_time"

    def get_readonly_fields(self, request, obj=None):
        # Only the window of an existing grant changes; anything else is a new grant.
        if obj is not None:
            return [*self.readonly_fields, "athlete", "manager", "permission"]
        return self.readonly_fields

    @admin.display(boolean=True, description="active now")
    def active_now(self, grant: AthletePermission) -> bool:
        return grant.start_time <= timezone.now() < grant.expiration_time

    def save_model(self, request, obj: AthletePermission, form, change: bool) -> None:
        # Through the services: shrinking a SHARE grant clips the grants derived from it.
        if change:
            services.permission_update(
                actor=request.user,
                grant=obj,
                start_time=obj.start_time,
                expiration_time=obj.expiration_time,
            )
        else:
            created = services.permission_create(
                actor=request.user,
                athlete=obj.athlete,
                manager=obj.manager,
                permission=obj.permission,
                start_time=obj.start_time,
                expiration_time=obj.expiration_time,
            )
            obj.pk = created.pk
            obj.granted_by = created.granted_by
