"""Who may see whose data (SPEC §3). Every later app asks these, never its own copy of the rule.

Windows are half-open [start, end). A grant *covers* [s, e) when start_time ≤ s and e ≤
expiration_time. The managing relation (a managed athlete's manager) covers all time, for READ
and WRITE alike.
"""

from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet

from users.models import Grant, GrantKind, User


def grants_covering(
    *, manager: User, athlete_id: int, permission: str, start: datetime, end: datetime
) -> QuerySet[Grant]:
    """Grants of `permission` from athlete to manager that cover the whole window [start, end)."""
    return Grant.objects.filter(
        manager=manager,
        athlete_id=athlete_id,
        permission=permission,
        start_time__lte=start,
        expiration_time__gte=end,
    )


def manager_manages(*, manager: User, athlete_id: int) -> bool:
    """True when `athlete_id` is a managed athlete of `manager`."""
    return User.objects.filter(pk=athlete_id, athlete_profile__managed_by=manager).exists()


def manager_can_read(*, manager: User, athlete_id: int, start: datetime, end: datetime) -> bool:
    """Manager M holds READ over the whole window [start, end) of the athlete, or manages him."""
    return (
        manager_manages(manager=manager, athlete_id=athlete_id)
        or grants_covering(
            manager=manager, athlete_id=athlete_id, permission=GrantKind.READ, start=start, end=end
        ).exists()
    )


def manager_can_write(*, manager: User, athlete_id: int, start: datetime, end: datetime) -> bool:
    """Manager M holds WRITE over the whole window [start, end) of the athlete, or manages him."""
    return (
        manager_manages(manager=manager, athlete_id=athlete_id)
        or grants_covering(
            manager=manager, athlete_id=athlete_id, permission=GrantKind.WRITE, start=start, end=end
        ).exists()
    )


def read_covering_q(
    manager: User, *, athlete: str = "athlete", start: str = "start_time", end: str = "end_time"
) -> Q:
    """A filter for querysets of windowed rows (e.g. timeframes): rows the manager may READ.

    `athlete`, `start` and `end` name the row's fields. One `EXISTS` subquery, no join fan-out,
    so it composes with pagination and `select_related` at a constant query count.
    """
    covering = Grant.objects.filter(
        manager=manager,
        athlete=OuterRef(athlete),
        permission=GrantKind.READ,
        start_time__lte=OuterRef(start),
        expiration_time__gte=OuterRef(end),
    )
    return Q(Exists(covering)) | Q(**{f"{athlete}__athlete_profile__managed_by": manager})
