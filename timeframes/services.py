"""Writes of timeframes (SPEC §5). Each one records its domain event in the same transaction.

The acting owner is settled first (a manager acts for himself, 403 if he names another owner;
an admin must name a manager, 400). Then the rules, in this order, each failure naming its rule:
  400 — `end_time > start_time`; the athlete is an athlete; `json_schema` is of type
        `timeframe`; `params` satisfy it;
  403 — the acting manager (the owner) owns the activity, holds WRITE on the athlete over the
        whole span (or manages him), and owns the device over the whole span (an ongoing
        ownership covers the future);
  409 — no other timeframe of the device overlaps the span (also a PostgreSQL constraint).
The rules are checked against the owner, also when an admin acts, so a timeframe never outlives
its owner's rights.
"""

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from activities.default_schemas import TIMEFRAME_PARAMS_SCHEMA_NAME
from activities.models import Activity, JsonSchema, SchemaType
from activities.services import json_validate
from asi_api.errors import Conflict, DomainError, RuleViolation, api_datetime
from asi_api.events import DomainEvent, event_emit
from asi_api.services import UNSET
from devices.models import OPEN_END, Device
from devices.selectors import ownerships_covering
from timeframes.events import TIMEFRAME_CREATED, TIMEFRAME_DELETED, TIMEFRAME_UPDATED
from timeframes.models import NO_OVERLAP_CONSTRAINT, Timeframe
from timeframes.selectors import timeframes_overlapping
from users.models import User
from users.selectors import manager_can_write


def timeframe_default_schema() -> JsonSchema | None:
    """The latest version of the shipped analytics-parameters schema (the default `json_schema`)."""
    return (
        JsonSchema.objects.filter(name=TIMEFRAME_PARAMS_SCHEMA_NAME, type=SchemaType.TIMEFRAME)
        .order_by("-version")
        .first()
    )


def _default_schema_or_400() -> JsonSchema:
    json_schema = timeframe_default_schema()
    if json_schema is None:
        raise DomainError(
            "No default timeframe schema is installed; name a json_schema.", field="json_schema"
        )
    return json_schema


def timeframe_writable_check(*, actor: User, timeframe: Timeframe) -> None:
    """The one gate for changing or deleting a (visible) timeframe: its owner and admins only;
    anyone else who sees it (its athlete, a manager with READ) gets 403. Views call it before
    reading the request body; `timeframe_update/delete/check` again inside."""
    if not (actor.is_admin or timeframe.owner_id == actor.pk):
        raise RuleViolation("Only the owner of a timeframe (or an admin) may change it.")


def _resolve_owner(*, actor: User, owner: User | None, current: User | None) -> User:
    # `current` is the owner of the timeframe being changed; the caller passed the write gate.
    if actor.is_manager:
        if owner is not None and owner.pk != actor.pk:
            raise RuleViolation(
                "A manager may only own his own timeframes: 'owner' must be yourself.",
            )
        return actor
    if actor.is_admin:
        chosen = owner or current
        if chosen is None:
            raise DomainError("An admin must name the owner (a manager).", field="owner")
        if not chosen.is_manager:
            raise DomainError("The owner must be a manager.", field="owner")
        return chosen
    raise RuleViolation("Only managers (and admins) may create or change timeframes.")


def _check_rules(
    *,
    owner: User,
    start_time: datetime,
    end_time: datetime,
    device: Device,
    activity: Activity,
    athlete: User,
    json_schema: JsonSchema,
    params: Any,
    exclude_id: int | None = None,
) -> None:
    if end_time <= start_time:
        raise DomainError("end_time must be after start_time.", field="end_time")
    if not athlete.is_athlete:
        raise DomainError("The athlete must be a user with the athlete role.", field="athlete")
    if json_schema.type != SchemaType.TIMEFRAME:
        raise DomainError(
            f"JSON schema {json_schema.pk} is of type '{json_schema.type}'; "
            "a timeframe needs a schema of type 'timeframe'.",
            field="json_schema",
        )
    if not isinstance(params, dict):
        raise DomainError("params must be a JSON object.", field="params")
    json_validate(json_schema=json_schema, value=params, field="params")

    if activity.owner_id != owner.pk:
        raise RuleViolation(f"The owner of a timeframe must own its activity ({activity.pk}).")
    if not manager_can_write(manager=owner, athlete_id=athlete.pk, start=start_time, end=end_time):
        raise RuleViolation(
            f"No WRITE permission on athlete {athlete.pk} covering the whole timeframe "
            f"[{api_datetime(start_time)}, {api_datetime(end_time)})."
        )
    # Locking the covering ownership row serialises this check with a concurrent release,
    # which updates that row: whichever commits first, the other sees its result.
    covering = ownerships_covering(
        manager=owner, device_id=device.pk, start=start_time, end=end_time
    ).select_for_update()
    if not list(covering[:1]):
        raise RuleViolation(
            f"Device {device.pk} is not owned by the owner over the whole timeframe "
            f"[{api_datetime(start_time)}, {api_datetime(end_time)})."
        )
    clash = timeframes_overlapping(
        device_id=device.pk, start=start_time, end=end_time, exclude_id=exclude_id
    ).first()
    if clash is not None:
        raise _overlap(device.pk, clash.pk)


def _overlap(device_id: int, other_id: int | None) -> Conflict:
    which = f"timeframe {other_id}" if other_id else "another timeframe"
    return Conflict(f"Device {device_id} is already in {which} overlapping this span.")


def _save(timeframe: Timeframe) -> None:
    # The service checked overlap first; the exclusion constraint (PostgreSQL) still catches a
    # racing writer that passed the same check. The savepoint keeps the outer transaction usable.
    try:
        with transaction.atomic():
            timeframe.save()
    except IntegrityError as exc:
        if NO_OVERLAP_CONSTRAINT in str(exc):
            raise _overlap(timeframe.device_id, None) from exc
        raise


@transaction.atomic
def timeframe_check(
    *,
    actor: User,
    timeframe: Timeframe | None,
    start_time: datetime,
    end_time: datetime,
    device: Device,
    activity: Activity,
    athlete: User,
    params: dict | None,
    json_schema: JsonSchema | None,
    owner: User | None,
) -> None:
    """Dry run of `timeframe_create` (`timeframe` None) or of a full `timeframe_update`: raise
    the `DomainError` the write would raise, change nothing. For forms (the Django admin)."""
    if timeframe is not None:
        timeframe_writable_check(actor=actor, timeframe=timeframe)
    _check_rules(
        owner=_resolve_owner(
            actor=actor, owner=owner, current=timeframe.owner if timeframe else None
        ),
        start_time=start_time,
        end_time=end_time,
        device=device,
        activity=activity,
        athlete=athlete,
        json_schema=json_schema or _default_schema_or_400(),
        params={} if params is None else params,
        exclude_id=timeframe.pk if timeframe else None,
    )


@transaction.atomic
def timeframe_create(
    *,
    actor: User,
    start_time: datetime,
    end_time: datetime,
    device: Device,
    activity: Activity,
    athlete: User,
    params: dict | None = None,
    json_schema: JsonSchema | None = None,
    owner: User | None = None,
) -> Timeframe:
    """Create a timeframe after checking every rule of SPEC §5 (see the module docstring).

    `params` defaults to `{}`; `json_schema` to the latest shipped analytics-parameters schema;
    `owner` to the actor (admins must name a manager). Emits `timeframe-created`.
    """
    owner = _resolve_owner(actor=actor, owner=owner, current=None)
    params = {} if params is None else params
    json_schema = json_schema or _default_schema_or_400()
    _check_rules(
        owner=owner,
        start_time=start_time,
        end_time=end_time,
        device=device,
        activity=activity,
        athlete=athlete,
        json_schema=json_schema,
        params=params,
    )
    timeframe = Timeframe(
        start_time=start_time,
        end_time=end_time,
        device=device,
        activity=activity,
        athlete=athlete,
        owner=owner,
        json_schema=json_schema,
        params=params,
    )
    _save(timeframe)
    event_emit(TIMEFRAME_CREATED, activity_id=activity.pk, timeframe_id=timeframe.pk)
    return timeframe


@transaction.atomic
def timeframe_update(
    *,
    actor: User,
    timeframe: Timeframe,
    start_time: datetime = UNSET,
    end_time: datetime = UNSET,
    device: Device = UNSET,
    activity: Activity = UNSET,
    athlete: User = UNSET,
    params: dict = UNSET,
    json_schema: JsonSchema = UNSET,
    owner: User = UNSET,
) -> Timeframe:
    """Change a timeframe; omitted fields keep their value. Every rule is checked again on the
    result (WRITE and ownership over the whole new span, params against the new schema).

    Only the owner or an admin may change it (403). Emits `timeframe-updated` (also for the
    previous activity when the timeframe moves to another one).
    """
    timeframe = Timeframe.objects.select_for_update().get(pk=timeframe.pk)
    timeframe_writable_check(actor=actor, timeframe=timeframe)
    new_owner = _resolve_owner(
        actor=actor, owner=None if owner is UNSET else owner, current=timeframe.owner
    )
    changes = {
        "start_time": start_time,
        "end_time": end_time,
        "device": device,
        "activity": activity,
        "athlete": athlete,
        "params": params,
        "json_schema": json_schema,
    }
    previous_activity_id = timeframe.activity_id
    for name, value in changes.items():
        if value is not UNSET:
            setattr(timeframe, name, value)
    timeframe.owner = new_owner
    _check_rules(
        owner=new_owner,
        start_time=timeframe.start_time,
        end_time=timeframe.end_time,
        device=timeframe.device,
        activity=timeframe.activity,
        athlete=timeframe.athlete,
        json_schema=timeframe.json_schema,
        params=timeframe.params,
        exclude_id=timeframe.pk,
    )
    _save(timeframe)
    event_emit(TIMEFRAME_UPDATED, activity_id=timeframe.activity_id, timeframe_id=timeframe.pk)
    if previous_activity_id != timeframe.activity_id:
        event_emit(TIMEFRAME_UPDATED, activity_id=previous_activity_id, timeframe_id=timeframe.pk)
    return timeframe


@transaction.atomic
def timeframe_delete(*, actor: User, timeframe: Timeframe) -> None:
    """Delete a timeframe (owner or admin, else 403). Emits `timeframe-deleted` first, so the
    event is recorded while the row still exists, in the same transaction."""
    timeframe_writable_check(actor=actor, timeframe=timeframe)
    event_emit(TIMEFRAME_DELETED, activity_id=timeframe.activity_id, timeframe_id=timeframe.pk)
    timeframe.delete()


@transaction.atomic
def timeframes_cut_at_release(
    *, manager: User, device_id: int, at: datetime, until: datetime = OPEN_END
) -> None:
    """The manager's ownership of the device no longer covers [at, until) — a release (SPEC §4)
    ends it at `at` — so his timeframes on it that are running at `at` now end at `at`, and
    those starting in [at, until) are deleted. (A timeframe lies inside one ownership period,
    so none that starts before `at` reaches past `until`.)

    Runs inside the releasing transaction; each change emits its event (`timeframe-updated` /
    `timeframe-deleted`) in that same transaction.
    """
    affected = (
        Timeframe.objects.select_for_update()
        .filter(owner=manager, device_id=device_id, end_time__gt=at, start_time__lt=until)
        .order_by("start_time", "pk")
    )
    for timeframe in affected:
        if timeframe.start_time >= at:
            event_emit(
                TIMEFRAME_DELETED, activity_id=timeframe.activity_id, timeframe_id=timeframe.pk
            )
            timeframe.delete()
        else:
            timeframe.end_time = at
            timeframe.save(update_fields=["end_time", "updated_at"])
            event_emit(
                TIMEFRAME_UPDATED, activity_id=timeframe.activity_id, timeframe_id=timeframe.pk
            )


def _deletions_announce(timeframes: QuerySet[Timeframe]) -> None:
    for timeframe_id, activity_id in timeframes.order_by("pk").values_list("pk", "activity_id"):
        event_emit(TIMEFRAME_DELETED, activity_id=activity_id, timeframe_id=timeframe_id)


# --- reactions to the events of lower apps (registered in TimeframesConfig.ready) -------------


def on_ownership_ended(event: DomainEvent) -> None:
    """devices' "ownership-ended": cut the owner's timeframes the ownership no longer covers."""
    timeframes_cut_at_release(
        manager=User.objects.get(pk=event.user_id),
        device_id=event.device_id,
        at=event.start,
        until=event.end,
    )


def on_activity_deleted(event: DomainEvent) -> None:
    """activities' "activity-deleted": its timeframes go with it by FK cascade; announce each
    one's deletion first (this reaction runs before any later app hears "activity-deleted")."""
    _deletions_announce(Timeframe.objects.filter(activity_id=event.activity_id))


def on_user_deleting(event: DomainEvent) -> None:
    """users' "user-deleting": the user's timeframes go with him by FK cascade (SPEC §3);
    announce each one's deletion first. An athlete's are those he wears; a manager's own ones
    mostly went with his activities already (activities react first), what remains are those
    in activities he no longer owns."""
    user_id = event.user_id
    _deletions_announce(Timeframe.objects.filter(Q(athlete_id=user_id) | Q(owner_id=user_id)))
