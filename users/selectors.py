"""Who may see whose data (SPEC §3). Every later app asks these, never its own copy of the rule.

Windows are half-open [start, end). A grant *covers* [s, e) when start_time ≤ s and e ≤
expiration_time; it is *active at* t when start_time ≤ t < expiration_time. So a grant ending at
21:00 covers a timeframe [20:00, 21:00) but not one starting at 21:00, and is no longer active
at 21:00. The managing relation (a managed athlete's manager) covers all time, for READ and
WRITE alike. SHARE never implies READ.
"""

from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from users.models import AthletePermission, PermissionKind, User


def permissions_covering(
    *, manager: User, athlete_id: int, permission: str, start: datetime, end: datetime
) -> QuerySet[AthletePermission]:
    """Grants of `permission` from athlete to manager that cover the whole window [start, end)."""
    return AthletePermission.objects.filter(
        manager=manager,
        athlete_id=athlete_id,
        permission=permission,
        start_time__lte=start,
        expiration_time__gte=end,
    )


def permissions_active_q(at: datetime | None = None, *, prefix: str = "") -> Q:
    """A filter for grants active at `at` (default: now): start_time ≤ at < expiration_time.

    `prefix` reaches grants through a relation, e.g. `prefix="permissions_given__"` on users.
    """
    at = at or timezone.now()
    return Q(**{f"{prefix}start_time__lte": at, f"{prefix}expiration_time__gt": at})


def manager_manages(*, manager: User, athlete_id: int) -> bool:
    """True when `athlete_id` is a managed athlete of `manager`."""
    return User.objects.filter(pk=athlete_id, athlete_profile__managed_by=manager).exists()


def manager_holds(
    *, manager: User, athlete_id: int, permission: str, start: datetime, end: datetime
) -> bool:
    """Manager M holds READ (or WRITE) over the whole window [start, end) of the athlete, or
    manages him (which counts as both, for all time).

    One permission must cover the whole window: two adjacent ones do not add up (SPEC §3).
    WRITE does not imply READ, nor READ WRITE; SHARE implies neither.
    """
    return (
        manager_manages(manager=manager, athlete_id=athlete_id)
        or permissions_covering(
            manager=manager, athlete_id=athlete_id, permission=permission, start=start, end=end
        ).exists()
    )


def manager_can_read(*, manager: User, athlete_id: int, start: datetime, end: datetime) -> bool:
    """`manager_holds` READ over [start, end)."""
    return manager_holds(
        manager=manager, athlete_id=athlete_id, permission=PermissionKind.READ, start=start, end=end
    )


def manager_can_write(*, manager: User, athlete_id: int, start: datetime, end: datetime) -> bool:
    """`manager_holds` WRITE over [start, end)."""
    return manager_holds(
        manager=manager,
        athlete_id=athlete_id,
        permission=PermissionKind.WRITE,
        start=start,
        end=end,
    )


def manager_can_read_at(*, manager: User, athlete_id: int, at: datetime) -> bool:
    """Manager M holds READ on the athlete at instant `at` (start ≤ at < expiration), or manages
    him. Live streaming asks this with `at` = now (SPEC §3: READ covering *now*)."""
    return (
        manager_manages(manager=manager, athlete_id=athlete_id)
        or AthletePermission.objects.filter(
            permissions_active_q(at),
            manager=manager,
            athlete_id=athlete_id,
            permission=PermissionKind.READ,
        ).exists()
    )


def _covering_q(manager: User, permission: str, *, athlete: str, start: str, end: str) -> Q:
    covering = AthletePermission.objects.filter(
        manager=manager,
        athlete=OuterRef(athlete),
        permission=permission,
        start_time__lte=OuterRef(start),
        expiration_time__gte=OuterRef(end),
    )
    return Q(Exists(covering)) | Q(**{f"{athlete}__athlete_profile__managed_by": manager})


def read_covering_q(
    manager: User, *, athlete: str = "athlete", start: str = "start_time", end: str = "end_time"
) -> Q:
    """A filter for querysets of windowed rows (e.g. timeframes): rows the manager may READ.

    `athlete`, `start` and `end` name the row's fields; a row matches when one READ grant covers
    its whole [start, end) or the manager manages its athlete. A NULL `end` matches no grant
    (callers with open-ended rows compare against their own stand-in for "now"). One `EXISTS`
    subquery, no join fan-out, so it composes with pagination and `select_related` at a
    constant query count.
    """
    return _covering_q(manager, PermissionKind.READ, athlete=athlete, start=start, end=end)


def write_covering_q(
    manager: User, *, athlete: str = "athlete", start: str = "start_time", end: str = "end_time"
) -> Q:
    """Like `read_covering_q`, for WRITE: rows whose whole window one WRITE grant covers, or
    whose athlete the manager manages."""
    return _covering_q(manager, PermissionKind.WRITE, athlete=athlete, start=start, end=end)


def athletes_visible_to(user: User) -> QuerySet[User]:
    """Athletes `user` may see (SPEC §3 athletes list), with their profile joined.

    Admin: every athlete. Manager: athletes on whom he holds a grant of any kind (READ, WRITE
    or SHARE) active now, and the athletes he manages. Athlete: himself. Anyone else: none.
    Each athlete appears once (EXISTS, not a join), so the queryset pages and counts correctly.
    """
    athletes = User.objects.athletes().select_related("athlete_profile")
    # The role dispatch has the same shape in every `*_visible_to` of the project: boilerplate;
    # the rule is what each branch returns.
    if not user.is_authenticated:
        return athletes.none()
    if user.is_admin:
        return athletes
    if user.is_manager:
        active = AthletePermission.objects.filter(
            permissions_active_q(), manager=user, athlete=OuterRef("pk")
        )
        return athletes.filter(Q(Exists(active)) | Q(athlete_profile__managed_by=user))
    if user.is_athlete:
        return athletes.filter(pk=user.pk)
    return athletes.none()


def athletes_grantable_by(user: User) -> QuerySet[User]:
    """Athletes `user` may address on the permissions endpoints (SPEC §3 grants).

    Those he can see (`athletes_visible_to`) plus those with whom he has any grant at all,
    past or future: a manager whose SHARE starts next week may already share it, and an
    athlete's grant that expired yesterday can still be listed and deleted. Others are 404.
    """
    visible = athletes_visible_to(user)
    if not user.is_authenticated or user.is_admin or user.is_athlete:
        return visible
    related = AthletePermission.objects.filter(
        Q(manager=user) | Q(granted_by=user), athlete=OuterRef("pk")
    )
    return User.objects.athletes().filter(Q(pk__in=visible.values("pk")) | Q(Exists(related)))


def managers_visible_to(user: User) -> QuerySet[User]:
    """Managers `user` may see in full (SPEC §3 managers list), with their profile joined.

    Admin: every manager. Manager: himself. Athlete: the managers he has granted anything to
    (any grant, past, present or future). Looking a manager up by exact username is open to
    everyone authenticated, with a reduced representation: see `managers_by_username`.
    """
    managers = User.objects.managers().select_related("manager_profile")
    if not user.is_authenticated:
        return managers.none()
    if user.is_admin:
        return managers
    if user.is_manager:
        return managers.filter(pk=user.pk)
    if user.is_athlete:
        granted = AthletePermission.objects.filter(athlete=user, manager=OuterRef("pk"))
        return managers.filter(Exists(granted))
    return managers.none()


def managers_by_username(username: str) -> QuerySet[User]:
    """The manager named exactly `username` (none or one): anyone authenticated may find him,
    so an athlete can learn the id to grant to."""
    return User.objects.managers().filter(username=username).select_related("manager_profile")


def permissions_visible_to(user: User) -> QuerySet[AthletePermission]:
    """Grants `user` is party to (SPEC §3 `GET /permissions/`).

    Admin: all. Athlete: the grants he gave. Manager: the grants he received, those he made
    (READ shared under his SHARE) and those derived from his SHARE grants (he may revoke them).
    """
    permissions = AthletePermission.objects.all()
    if not user.is_authenticated:
        return permissions.none()
    if user.is_admin:
        return permissions
    if user.is_athlete:
        return permissions.filter(athlete=user)
    if user.is_manager:
        return permissions.filter(
            Q(manager=user) | Q(granted_by=user) | Q(derived_from__manager=user)
        )
    return permissions.none()


def share_permission_covering(
    *, manager: User, athlete_id: int, start: datetime, end: datetime
) -> AthletePermission | None:
    """The SHARE grant of `manager` on the athlete covering [start, end), if any (the one
    lasting longest when several do): the grant a READ shared over that window derives from."""
    return (
        permissions_covering(
            manager=manager,
            athlete_id=athlete_id,
            permission=PermissionKind.SHARE,
            start=start,
            end=end,
        )
        .order_by("-expiration_time", "pk")
        .first()
    )
