"""Writes on users, profiles and athlete permissions ("grants", SPEC §3). Each function is one transaction.

Callers (views, admin, demo data, tests) validate the *shape* of input; the rules — who may do
what, password strength, unique usernames, grant windows — are checked here, so every way in
(REST, admin, shell) obeys them. Failures raise `asi_api.errors` types, never DRF exceptions.
"""

import logging
import secrets
from datetime import datetime
from typing import Any, Literal

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q

from asi_api.errors import DomainError, NotFound, RuleViolation, api_datetime
from asi_api.events import event_emit
from users.events import ATHLETE_METRIC_FIELDS, ATHLETE_PROFILE_UPDATED, USER_DELETING
from users.models import (
    ATHLETE_PROFILE_FIELDS,
    MANAGER_PROFILE_FIELDS,
    AthletePermission,
    AthleteProfile,
    ManagerProfile,
    PermissionKind,
    Role,
    User,
)
from users.selectors import manager_manages, share_permission_covering

logger = logging.getLogger(__name__)

MANAGE_PERMISSION = "users.can_create_managed_athletes"


# --- accounts -------------------------------------------------------------------------------


def _password_check(password: str, user: User) -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages), field="password") from None


def _username_check(username: str, *, exclude_pk: int | None = None) -> None:
    taken = User.objects.filter(username__iexact=username).exclude(pk=exclude_pk)
    if taken.exists():
        raise DomainError("A user with that username already exists.", field="username")


def _user_create(
    *, username: str, email: str, password: str | None, external_id: str, role: str
) -> tuple[User, str | None]:
    """Create the user row; returns it and the generated password (None if one was given).

    `password=""` makes an account that cannot log in (a managed athlete).
    """
    _username_check(username)
    user = User(username=username, email=email, external_id=external_id, role=role)
    generated = None
    if password == "":
        user.set_unusable_password()
    else:
        if password is None:
            # 16 random URL-safe characters: passes every configured validator.
            generated = password = secrets.token_urlsafe(12)
        _password_check(password, user)
        user.set_password(password)
    _user_save(user)
    return user, generated


def _user_save(user: User) -> None:
    try:
        # A savepoint, so a lost race on the username leaves the outer transaction usable.
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise DomainError("A user with that username already exists.", field="username") from None


def _profile_create(user: User, profile: dict[str, Any] | None, **fields: Any) -> None:
    """The profile of `user`'s role, from the allowed keys of `profile` (SPEC §3)."""
    if user.is_manager:
        ManagerProfile.objects.create(user=user, **_only(profile, MANAGER_PROFILE_FIELDS), **fields)
    else:
        profile = _only(profile, ATHLETE_PROFILE_FIELDS)
        _heart_rates_check(profile)
        AthleteProfile.objects.create(user=user, **profile, **fields)


def _credentials_mail_on_commit(user: User, password: str) -> None:
    """E-mail a generated password once the account exists (never for a rolled-back one)."""
    subject = "Your ASI API account"
    body = (
        f"Hello,\n\nan ASI API account was created for you.\n\n"
        f"  Username: {user.username}\n  Password: {password}\n\n"
        "Change the password after your first login "
        "(POST /api/v1/account/change-password/), or reset it at /accounts/password-reset/.\n"
    )
    recipient = user.email
    transaction.on_commit(lambda: send_mail(subject, body, None, [recipient]))


def user_register(
    *,
    role: str,
    username: str,
    email: str,
    password: str | None = None,
    external_id: str = "",
    profile: dict[str, Any] | None = None,
) -> User:
    """Open registration of a manager or an athlete (`role`, SPEC §3), with his role's profile.
    Without `password`, one is generated and e-mailed after commit. Raises DomainError on a
    taken username, a weak password or an inconsistent profile."""
    if role not in (Role.MANAGER, Role.ATHLETE):
        raise DomainError("Only managers and athletes register.", field="role")
    with transaction.atomic():
        user, generated = _user_create(
            username=username,
            email=email,
            password=password,
            external_id=external_id,
            role=role,
        )
        _profile_create(user, profile)
        if generated:
            _credentials_mail_on_commit(user, generated)
    logger.info("%s %s registered", role.lower(), user.pk)
    return user


def athlete_create_managed(
    *,
    manager: User,
    username: str,
    external_id: str = "",
    profile: dict[str, Any] | None = None,
) -> User:
    """A manager holding `can_create_managed_athletes` creates an athlete he manages.

    The athlete has no e-mail and an unusable password (he cannot log in); his manager holds
    READ and WRITE on him for all time through the managing relation, not through grants.
    """
    if not manager.is_manager or not manager.has_perm(MANAGE_PERMISSION):
        raise RuleViolation("Only managers with 'can_create_managed_athletes' may do this.")
    with transaction.atomic():
        user, _ = _user_create(
            username=username, email="", password="", external_id=external_id, role=Role.ATHLETE
        )
        _profile_create(user, profile, managed_by=manager)
    logger.info("managed athlete %s created by manager %s", user.pk, manager.pk)
    return user


def profile_ensure(*, user: User) -> None:
    """Give `user` the (empty) profile of his role if he has none, e.g. one added in the admin."""
    if user.is_manager:
        ManagerProfile.objects.get_or_create(user=user)
    elif user.is_athlete:
        AthleteProfile.objects.get_or_create(user=user)


def user_writable_check(*, actor: User, user: User) -> None:
    """The one gate for changing a user's account and profile (SPEC §3): the user himself, an
    admin, or the manager who manages that (managed) athlete; anyone else who can see him: 403.

    Views call it before reading the request body, `user_update` again inside.
    """
    if actor.is_admin or actor.pk == user.pk:
        return
    if actor.is_manager and manager_manages(manager=actor, athlete_id=user.pk):
        return
    if user.is_athlete:
        raise RuleViolation("Only the athlete, his managing manager or an admin may change him.")
    raise RuleViolation("Only the user himself or an admin may change him.")


def user_update(
    *,
    actor: User,
    user: User,
    username: str | None = None,
    email: str | None = None,
    external_id: str | None = None,
    profile: dict[str, Any] | None = None,
) -> User:
    """Change a user's account fields and his role's profile (None = leave unchanged).

    Allowed to the user himself, admins, and the managing manager of a managed athlete.
    Managed athletes have no e-mail.
    """
    user_writable_check(actor=actor, user=user)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if username is not None and username != user.username:
            _username_check(username, exclude_pk=user.pk)
            user.username = username
        if email is not None:
            if email and _managed_by_id(user) is not None:
                raise DomainError("Managed athletes have no e-mail address.", field="email")
            user.email = email
        if external_id is not None:
            user.external_id = external_id
        _user_save(user)
        if profile:
            _profile_update(user, profile)
    # Fresh, with the profile joined, so the caller serializes what is stored.
    return User.objects.select_related("athlete_profile", "manager_profile").get(pk=user.pk)


def _profile_update(user: User, changes: dict[str, Any]) -> None:
    if user.role == Role.MANAGER:
        profile, _ = ManagerProfile.objects.get_or_create(user=user)
        allowed = MANAGER_PROFILE_FIELDS
    elif user.role == Role.ATHLETE:
        profile, _ = AthleteProfile.objects.get_or_create(user=user)
        allowed = ATHLETE_PROFILE_FIELDS
    else:
        raise DomainError("Admins have no profile.", field="profile")
    changes = _only(changes, allowed)
    if user.role == Role.ATHLETE:
        merged = {
            "max_heart_rate": profile.max_heart_rate,
            "resting_heart_rate": profile.resting_heart_rate,
        }
        merged.update(changes)
        _heart_rates_check(merged)
    metric_change = any(
        field in ATHLETE_METRIC_FIELDS and getattr(profile, field) != value
        for field, value in changes.items()
    )
    for field, value in changes.items():
        setattr(profile, field, value)
    profile.save()
    if user.role == Role.ATHLETE and metric_change:
        event_emit(ATHLETE_PROFILE_UPDATED, user_id=user.pk)


def password_change(*, user: User, old_password: str, new_password: str) -> None:
    """Change the caller's password after checking the old one and the validators."""
    if not user.check_password(old_password):
        raise DomainError("The old password is wrong.", field="old_password")
    try:
        password_validation.validate_password(new_password, user)
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages), field="new_password") from None
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
    logger.info("user %s changed his password", user.pk)


def user_delete(*, actor: User, user: User) -> None:
    """Delete an account (the user himself or an admin), with what goes with it (SPEC §3).

    In one transaction: the user row is locked, "user-deleting" is announced while it still
    exists, and the apps above react in it (devices: his devices are released, cutting their
    timeframes; activities: his activities are deleted, announcing their timeframes; timeframes:
    his timeframes as an athlete announce their deletion). Then the row goes and takes by FK
    cascade his profile and his permissions, given, received and derived from his SHARE ones.
    Athletes he managed stay, unmanaged; samples stay with the device.
    """
    if not (actor.is_admin or actor.pk == user.pk):
        role = user.role.lower()
        raise RuleViolation(f"Only the {role} himself or an admin may delete this {role}.")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        event_emit(USER_DELETING, user_id=user.pk)
        user_id, role = user.pk, user.role
        user.delete()
    logger.info("user %s (%s) deleted by user %s", user_id, role.lower(), actor.pk)


def account_delete(*, user: User) -> None:
    """The caller deletes his own account (`user_delete` by himself)."""
    user_delete(actor=user, user=user)


# --- grants ---------------------------------------------------------------------------------


def permission_writable_check(
    *, actor: User, grant: AthletePermission, change: Literal["change", "delete"] = "change"
) -> None:
    """The one gate for changing or deleting a permission (SPEC §3): the athlete who gave it, an
    admin, or — for a READ derived from a SHARE permission — the manager holding that SHARE
    permission (the sharer). Anyone else who can see it: 403 naming the `change` refused.

    Views call it before reading the request body, `permission_update/delete` again inside.
    """
    if actor.is_admin or actor.pk == grant.athlete_id:
        return
    if (
        grant.derived_from_id is not None
        and AthletePermission.objects.filter(pk=grant.derived_from_id, manager=actor).exists()
    ):
        return
    raise RuleViolation(f"Only the athlete, an admin or the sharer may {change} this grant.")


def permission_window_check(
    *,
    start_time: datetime,
    expiration_time: datetime,
    derived_from: AthletePermission | None = None,
) -> None:
    """The window is non-empty and, for a derived READ, inside its SHARE grant's window."""
    if expiration_time <= start_time:
        raise DomainError(
            "expiration_time must be after start_time (windows are [start, expiration)).",
            field="expiration_time",
        )
    if derived_from is not None and not (
        derived_from.start_time <= start_time and expiration_time <= derived_from.expiration_time
    ):
        raise DomainError(
            "The window must lie inside the SHARE grant it is shared under "
            f"[{api_datetime(derived_from.start_time)}, {api_datetime(derived_from.expiration_time)}).",
            field="expiration_time" if start_time >= derived_from.start_time else "start_time",
        )


def permission_create(
    *,
    actor: User,
    athlete: User,
    manager: User,
    permission: str,
    start_time: datetime,
    expiration_time: datetime,
) -> AthletePermission:
    """Athlete `athlete` grants `permission` to `manager` over [start_time, expiration_time).

    The athlete himself or an admin may grant anything. A manager holding SHARE on the athlete
    may grant READ to another manager inside one SHARE window; the grant records it in
    `derived_from` and follows it (clipped when it shrinks, deleted with it). Anyone else: 403.
    """
    if not athlete.is_athlete:
        raise NotFound(f"No athlete with id {athlete.pk}.")
    if not manager.is_manager:
        raise NotFound(f"No manager with id {manager.pk}.")
    if permission not in PermissionKind.values:
        raise DomainError(f'"{permission}" is not a valid choice.', field="permission")
    permission_window_check(start_time=start_time, expiration_time=expiration_time)
    with transaction.atomic():
        derived_from = None
        if not (actor.is_admin or actor.pk == athlete.pk):
            if not actor.is_manager:
                raise RuleViolation("Only the athlete or an admin may grant permissions.")
            holds_share = AthletePermission.objects.filter(
                manager=actor, athlete=athlete, permission=PermissionKind.SHARE
            ).exists()
            if not holds_share:
                raise RuleViolation(
                    "Only the athlete, an admin or a manager holding SHARE may grant permissions."
                )
            if permission != PermissionKind.READ:
                raise RuleViolation("A manager holding SHARE may grant READ only.")
            if manager.pk == actor.pk:
                raise RuleViolation("SHARE does not imply READ: you cannot grant READ to yourself.")
            derived_from = share_permission_covering(
                manager=actor, athlete_id=athlete.pk, start=start_time, end=expiration_time
            )
            if derived_from is None:
                raise DomainError(
                    "The window reaches outside your SHARE grants on this athlete.",
                    field="expiration_time",
                )
            # Lock the SHARE grant and re-check on the locked row: a concurrent shrink of it
            # must either see this grant (and clip it) or be seen by this check.
            derived_from = AthletePermission.objects.select_for_update().get(pk=derived_from.pk)
            permission_window_check(
                start_time=start_time, expiration_time=expiration_time, derived_from=derived_from
            )
        grant = AthletePermission.objects.create(
            athlete=athlete,
            manager=manager,
            permission=permission,
            start_time=start_time,
            expiration_time=expiration_time,
            granted_by=actor,
            derived_from=derived_from,
        )
    logger.info(
        "grant %s: %s on athlete %s to manager %s by user %s",
        grant.pk,
        permission,
        athlete.pk,
        manager.pk,
        actor.pk,
    )
    return grant


def permission_update(
    *,
    actor: User,
    grant: AthletePermission,
    start_time: datetime | None = None,
    expiration_time: datetime | None = None,
) -> AthletePermission:
    """Change a grant's window (e.g. end it now: access to the past stays).

    By the athlete, an admin, or — for a derived READ — the manager whose SHARE it derives
    from. A derived grant stays inside its SHARE window (400 otherwise). Shrinking a SHARE grant
    clips the grants derived from it to the new window and deletes those left empty.
    """
    permission_writable_check(actor=actor, grant=grant)
    with transaction.atomic():
        grant = AthletePermission.objects.select_for_update().get(pk=grant.pk)
        start = start_time or grant.start_time
        end = expiration_time or grant.expiration_time
        derived_from = None
        if grant.derived_from_id:
            derived_from = AthletePermission.objects.select_for_update().get(
                pk=grant.derived_from_id
            )
        permission_window_check(start_time=start, expiration_time=end, derived_from=derived_from)
        grant.start_time, grant.expiration_time = start, end
        grant.save(update_fields=["start_time", "expiration_time"])
        if grant.permission == PermissionKind.SHARE:
            _derived_clip(grant)
    return grant


def _derived_clip(share: AthletePermission) -> None:
    derived = AthletePermission.objects.filter(derived_from=share)
    # Grants wholly outside the new window would become empty: they go (the CHECK constraint
    # forbids an empty window, so delete them before clipping the rest).
    derived.filter(
        Q(start_time__gte=share.expiration_time) | Q(expiration_time__lte=share.start_time)
    ).delete()
    derived.filter(expiration_time__gt=share.expiration_time).update(
        expiration_time=share.expiration_time
    )
    derived.filter(start_time__lt=share.start_time).update(start_time=share.start_time)


def permission_delete(*, actor: User, grant: AthletePermission) -> None:
    """Remove a grant entirely (access to the past goes too); grants derived from it go with
    it. By the athlete, an admin, or the sharer for a derived READ."""
    permission_writable_check(actor=actor, grant=grant, change="delete")
    with transaction.atomic():
        grant_id = grant.pk
        grant.delete()
    logger.info("grant %s deleted by user %s", grant_id, actor.pk)


# --- helpers --------------------------------------------------------------------------------


def _only(values: dict[str, Any] | None, allowed: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in (values or {}).items() if k in allowed}


def _heart_rates_check(profile: dict[str, Any]) -> None:
    resting, maximum = profile.get("resting_heart_rate"), profile.get("max_heart_rate")
    if resting is not None and maximum is not None and resting >= maximum:
        raise DomainError(
            "resting_heart_rate must be below max_heart_rate.", field="resting_heart_rate"
        )


def _managed_by_id(user: User) -> int | None:
    profile = AthleteProfile.objects.filter(user=user).values_list("managed_by", flat=True)
    return profile.first()
