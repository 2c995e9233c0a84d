from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower


class Role(models.TextChoices):
    ADMIN = "ADMIN", "Admin"
    MANAGER = "MANAGER", "Manager"
    ATHLETE = "ATHLETE", "Athlete"


class UserQuerySet(models.QuerySet):
    """`User.objects.athletes()`, `.managers()`: the one spelling of "has this role".

    A superuser is an admin whatever his `role` column says (SPEC §3), so he is neither; these
    match the `is_athlete` / `is_manager` properties of `User`.
    """

    def athletes(self) -> "UserQuerySet":
        return self.filter(role=Role.ATHLETE, is_superuser=False)

    def managers(self) -> "UserQuerySet":
        return self.filter(role=Role.MANAGER, is_superuser=False)


class UserObjects(UserManager.from_queryset(UserQuerySet)):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        # Superusers are admins (SPEC §3), whatever the caller passes.
        extra_fields["role"] = Role.ADMIN
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    """A person using the API, with exactly one role (SPEC §3).

    The id is the public id everywhere (URLs, `owner`, `athlete`, `managed_by`). Names live in
    the role's profile, so `first_name`/`last_name` of Django's user stay empty.
    """

    role = models.CharField(max_length=8, choices=Role.choices, default=Role.ATHLETE)
    external_id = models.CharField(max_length=255, blank=True, default="", db_index=True)

    objects = UserObjects()

    class Meta:
        permissions = [
            ("can_create_managed_athletes", "Can create managed athletes"),
        ]
        indexes = [models.Index(fields=["role"], name="users_user_role_idx")]
        constraints = [
            # `Carol` and `carol` would be two people to the database but one to everybody else;
            # the services check first, this settles races between two registrations.
            models.UniqueConstraint(
                Lower("username"),
                name="user_username_unique_ignoring_case",
                violation_error_message="A user with that username already exists.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.username} ({self.role.lower()})"

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN or self.is_superuser

    # The same rules as `UserQuerySet.athletes()` / `.managers()`, for one row in memory.
    @property
    def is_manager(self) -> bool:
        return self.role == Role.MANAGER and not self.is_superuser

    @property
    def is_athlete(self) -> bool:
        return self.role == Role.ATHLETE and not self.is_superuser


class Gender(models.TextChoices):
    MALE = "M", "Male"
    FEMALE = "F", "Female"


# The profile fields of the API representations (SPEC §3), in their order.
MANAGER_PROFILE_FIELDS = ("first_name", "last_name")
ATHLETE_PROFILE_FIELDS = (
    "first_name",
    "last_name",
    "gender",
    "weight",
    "height",
    "birth_date",
    "nationality",
    "profile_picture",
    "max_heart_rate",
    "resting_heart_rate",
)


class ManagerProfile(models.Model):
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="manager_profile")
    first_name = models.CharField(max_length=150, blank=True, default="")
    last_name = models.CharField(max_length=150, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.user.username


class AthleteProfile(models.Model):
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="athlete_profile")
    first_name = models.CharField(max_length=150, blank=True, default="")
    last_name = models.CharField(max_length=150, blank=True, default="")
    gender = models.CharField(max_length=1, choices=Gender.choices, blank=True, default="")
    weight = models.FloatField(null=True, blank=True, help_text="kg")
    height = models.FloatField(null=True, blank=True, help_text="m")
    birth_date = models.DateField(null=True, blank=True)
    nationality = models.CharField(max_length=64, blank=True, default="")
    # Validated PNG/JPEG bytes (≤ 1 MiB), exchanged as base64 in the API.
    profile_picture = models.BinaryField(null=True, blank=True, editable=True)
    max_heart_rate = models.PositiveSmallIntegerField(null=True, blank=True, help_text="bpm")
    resting_heart_rate = models.PositiveSmallIntegerField(null=True, blank=True, help_text="bpm")
    # A managed athlete (created by a manager with `can_create_managed_athletes`) has no login;
    # his manager implicitly holds READ and WRITE on him for all time.
    managed_by = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_athletes",
    )

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.user.username


class PermissionKind(models.TextChoices):
    READ = "READ", "Read"
    WRITE = "WRITE", "Write"
    SHARE = "SHARE", "Share"


class AthletePermission(models.Model):
    """An athlete's permission for a manager over the half-open window [start_time, expiration_time)
    (SPEC §3 "Permissions", the `/permissions/` URLs; not an OAuth grant).

    A READ permission made by a manager holding SHARE records `derived_from`; it never reaches
    outside that SHARE permission's window, and goes with it when the SHARE one ends or is deleted.
    """

    athlete = models.ForeignKey(
        User,
        on_delete=models.CASCADE,
        related_name="permissions_given",
        help_text="The athlete whose data this permission opens.",
    )
    manager = models.ForeignKey(
        User,
        on_delete=models.CASCADE,
        related_name="permissions_received",
        help_text="The manager who receives the permission.",
    )
    permission = models.CharField(
        max_length=5,
        choices=PermissionKind.choices,
        help_text="READ: read timeframes and computed data. WRITE: create and update "
        "timeframes. SHARE: grant READ to other managers (does not imply READ).",
    )
    start_time = models.DateTimeField(help_text="First instant covered (inclusive).")
    expiration_time = models.DateTimeField(
        help_text="First instant no longer covered (exclusive): the window is [start, expiration)."
    )
    granted_by = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="permissions_granted",
        help_text="Who granted the permission: the athlete, an admin, or the manager holding SHARE.",
    )
    derived_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="derived_permissions",
        help_text="The SHARE permission this READ permission was granted under; it never "
        "outlives it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "athlete permission"
        constraints = [
            models.CheckConstraint(
                condition=Q(expiration_time__gt=F("start_time")),
                name="permission_window_not_empty",
            ),
        ]
        indexes = [
            models.Index(
                fields=["manager", "athlete", "permission", "start_time", "expiration_time"],
                name="permission_lookup_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.permission} {self.athlete_id}→{self.manager_id} [{self.start_time}, {self.expiration_time})"
