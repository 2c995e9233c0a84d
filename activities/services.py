"""Writes of JSON schemas and activities (SPEC §5). Views, admin and commands call these only.

Every activity change emits its domain event (asi_api.events) inside the same transaction, so
the webhook outbox and analytics recomputation plug in without touching this module.
"""

from typing import Any

from django.db import IntegrityError, transaction

from activities.events import ACTIVITY_CREATED, ACTIVITY_DELETED, ACTIVITY_UPDATED
from activities.models import Activity, JsonSchema, SchemaType
from activities.validation import document_errors, schema_errors
from asi_api.errors import Conflict, DomainError, RuleViolation
from asi_api.events import DomainEvent, event_emit
from asi_api.services import UNSET
from users.models import User


class JsonInvalid(DomainError):
    """400 listing every failure of a JSON document: `{field: ["<path>: <message>", ...]}`."""

    def __init__(self, messages: list[str], *, field: str) -> None:
        super().__init__("; ".join(messages), field=field)
        self.messages = messages

    def as_body(self) -> dict:
        return {self.field: self.messages}


def json_validate(*, json_schema: JsonSchema, value: Any, field: str = "json") -> None:
    """Raise `JsonInvalid` (400 on `field`) unless `value` satisfies `json_schema`."""
    errors = document_errors(json_schema.schema, value)
    if errors:
        raise JsonInvalid(errors, field=field)


# --- JSON schemas ----------------------------------------------------------------------------


def json_schema_plan(
    *, schema: Any, name: str | None, type: str | None, parent: JsonSchema | None
) -> tuple[str, str, int]:
    """Check a schema about to be created; returns its (name, type, version) or raises.

    400 when the schema is not a valid draft 2020-12 JSON Schema or fields are missing or do not
    match the parent; 409 when the name is taken or the parent already has a newer version.
    Read-only, so the admin form can show the same errors before saving.
    """
    errors = schema_errors(schema)
    if errors:
        raise JsonInvalid(errors, field="schema")
    if parent is not None:
        if name not in (None, "", parent.name):
            raise DomainError(
                f"A new version keeps its parent's name '{parent.name}'.", field="name"
            )
        if type not in (None, "", parent.type):
            raise DomainError(
                f"A new version keeps its parent's type '{parent.type}'.", field="type"
            )
        newer = parent.children.order_by("-version").first()
        if newer is not None:
            raise Conflict(
                f"Version {newer.version} of '{parent.name}' already exists (id {newer.pk}); "
                "a new version must name the latest version as its parent."
            )
        return parent.name, parent.type, parent.version + 1
    if not name:
        raise DomainError("A name is required for a new schema (or give a parent).", field="name")
    if type not in SchemaType.values:
        raise DomainError(f"type must be one of {', '.join(SchemaType.values)}.", field="type")
    latest = JsonSchema.objects.filter(name=name).order_by("-version").first()
    if latest is not None:
        raise Conflict(
            f"A schema named '{name}' exists; to change it, create a new version with "
            f"parent={latest.pk} (its latest version)."
        )
    return name, type, 1


@transaction.atomic
def json_schema_create(
    *,
    actor: User,
    schema: Any,
    name: str | None = None,
    type: str | None = None,
    parent: JsonSchema | None = None,
) -> JsonSchema:
    """Store a new schema (admins only, else 403): version 1 of a new `name` (with `type`), or,
    with `parent`, the next version of the parent's line (name inherited, `type` must match,
    the parent must be the latest version). Errors as `json_schema_plan`.
    """
    if not actor.is_admin:
        raise RuleViolation("Only admins may create JSON schemas.")
    if parent is not None:
        # Lock the parent so two admins posting a version of the same line serialise here.
        parent = JsonSchema.objects.select_for_update().get(pk=parent.pk)
    name, type, version = json_schema_plan(schema=schema, name=name, type=type, parent=parent)
    try:
        with transaction.atomic():
            return JsonSchema.objects.create(
                name=name, type=type, version=version, parent=parent, schema=schema
            )
    except IntegrityError:
        # Two creations of the same new name raced past the check above.
        raise Conflict(f"Version {version} of '{name}' was just created by someone else.") from None


# --- activities ------------------------------------------------------------------------------


def activity_check(*, actor: User, json: Any, json_schema: JsonSchema, owner: User | None) -> None:
    """The input rules of an activity (read-only; `activity_create/update` and the admin form):
    `owner` per `actor`'s role, `json_schema` of type activity, `json` satisfying it.
    """
    if owner is not None:
        _check_owner(actor=actor, owner=owner)
    _check_schema_type(json_schema)
    json_validate(json_schema=json_schema, value=json)


def _check_schema_type(json_schema: JsonSchema) -> None:
    if json_schema.type != SchemaType.ACTIVITY:
        raise DomainError(
            f"JSON schema {json_schema.pk} is of type '{json_schema.type}'; "
            "an activity needs a schema of type 'activity'.",
            field="json_schema",
        )


def _check_owner(*, actor: User, owner: User) -> None:
    # A manager acts for himself only; an admin places the activity with any manager.
    if actor.is_admin:
        if not owner.is_manager:
            raise DomainError(
                f"User {owner.pk} is not a manager; owners are managers.", field="owner"
            )
    elif owner.pk != actor.pk:
        raise RuleViolation("A manager may only create or hold activities he owns himself.")


def activity_writable_check(*, actor: User, activity: Activity) -> None:
    """The one gate for changing or deleting a (visible) activity: its owner and admins only;
    anyone else who sees it (read-only) gets 403. Views call it before reading the request body,
    `activity_update/delete` again inside."""
    if not (actor.is_admin or activity.owner_id == actor.pk):
        raise RuleViolation("Only the activity's owner (or an admin) may change or delete it.")


@transaction.atomic
def activity_create(
    *,
    actor: User,
    name: str,
    json: Any,
    json_schema: JsonSchema,
    owner: User | None = None,
) -> Activity:
    """Create an activity. Managers create their own (`owner` defaults to the caller; naming
    another user is 403); admins must name a manager as `owner` (400 otherwise). `json_schema`
    must be of type activity and `json` must satisfy it (400 listing each failing path).
    Emits "activity-created".
    """
    if not (actor.is_manager or actor.is_admin):
        raise RuleViolation("Only managers (and admins) create activities.")
    if owner is None:
        if actor.is_admin:
            raise DomainError("An admin must name the owner (a manager).", field="owner")
        owner = actor
    activity_check(actor=actor, json=json, json_schema=json_schema, owner=owner)
    activity = Activity.objects.create(name=name, json=json, json_schema=json_schema, owner=owner)
    event_emit(ACTIVITY_CREATED, activity_id=activity.pk)
    return activity


@transaction.atomic
def activity_update(
    *,
    actor: User,
    activity: Activity,
    name: str = UNSET,
    json: Any = UNSET,
    json_schema: JsonSchema = UNSET,
    owner: User = UNSET,
) -> Activity:
    """Change the given fields (owner or admin only, else 403). `json` is validated again against
    the (possibly new) schema; a new `owner` follows the rules of `activity_create`.
    Emits "activity-updated".
    """
    activity_writable_check(actor=actor, activity=activity)
    new_owner = None
    if owner is not UNSET and owner.pk != activity.owner_id:
        new_owner = activity.owner = owner
    if name is not UNSET:
        activity.name = name
    if json_schema is not UNSET:
        activity.json_schema = json_schema
    if json is not UNSET:
        activity.json = json
    activity_check(
        actor=actor, json=activity.json, json_schema=activity.json_schema, owner=new_owner
    )
    activity.save()
    event_emit(ACTIVITY_UPDATED, activity_id=activity.pk)
    return activity


@transaction.atomic
def activity_delete(*, actor: User, activity: Activity) -> None:
    """Delete the activity and, by cascade, its timeframes (owner or admin only, else 403).

    Emits "activity-deleted" before the rows go; timeframes react to it by announcing the
    deletion of each of the activity's timeframes first, so in-transaction handlers (the webhook
    outbox) see "timeframe-deleted" for each, then "activity-deleted", and can still read the
    activity's webhooks.
    """
    activity_writable_check(actor=actor, activity=activity)
    event_emit(ACTIVITY_DELETED, activity_id=activity.pk)
    activity.delete()


@transaction.atomic
def activities_delete_owned(*, owner: User) -> int:
    """Delete every activity of `owner` through `activity_delete` (events included); used when a
    manager account is deleted (SPEC §3). Returns how many were deleted.
    """
    activities = list(Activity.objects.filter(owner=owner).order_by("pk"))
    for activity in activities:
        activity_delete(actor=owner, activity=activity)
    return len(activities)


def on_user_deleting(event: DomainEvent) -> None:
    """Reaction to users' "user-deleting" (registered in `ActivitiesConfig.ready`): his
    activities go with him, each announcing its deletion (SPEC §3)."""
    activities_delete_owned(owner=User.objects.get(pk=event.user_id))
