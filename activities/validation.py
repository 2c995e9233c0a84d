"""JSON Schema checks over plain data (no Django): is a schema valid, does a document satisfy it.

Every message names where the problem is, as a JSON path (`$` = the document itself), so a
client can point at the failing field: `"$.sport: 'tennis' was expected"`.
"""

from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import SchemaError, ValidationError
from jsonschema_specifications import REGISTRY as METASCHEMAS
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource, Unresolvable

from asi_api.jsontext import json_path, json_refusal

DRAFT_2020_12_URIS = frozenset(
    {
        "https://json-schema.org/draft/2020-12/schema",
        "https://json-schema.org/draft/2020-12/schema#",
    }
)
# A document failing many rules would otherwise produce an unbounded response.
MAX_ERRORS = 50
MAX_MESSAGE_CHARS = 300


def _refuse_retrieval(uri: str) -> Resource:
    raise NoSuchResource(ref=uri)


# jsonschema's default registry fetches any remote `$ref` over the network (SSRF from a schema an
# admin saved): references resolve inside the schema and the shipped metaschemas, or not at all.
REGISTRY = Registry(retrieve=_refuse_retrieval).combine(METASCHEMAS)


def _ascending(validator, wanted, instance, schema):
    # The project's `ascending` keyword (lists of bounds, activities/default_schemas.py): numbers
    # in strictly ascending order. Standard validators ignore it as an unknown keyword.
    if not wanted or not validator.is_type(instance, "array"):
        return
    numbers = [x for x in instance if validator.is_type(x, "number")]
    if any(b <= a for a, b in zip(numbers, numbers[1:], strict=False)):
        yield ValidationError(f"{instance!r} is not in strictly ascending order")


# Draft 2020-12 plus `ascending`; schemas are still checked against the standard metaschema.
ProjectValidator = validators.extend(Draft202012Validator, {"ascending": _ascending})


def _short(message: str) -> str:
    # jsonschema quotes the failing value in its messages; a large value must not flood the body.
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return message[: MAX_MESSAGE_CHARS - 1] + "…"


def _unstorable(value: Any) -> list[str]:
    # The API's parser refuses these already; JSON from the admin's forms arrives unchecked.
    refusal = json_refusal(value)
    return [] if refusal is None else [_short(f"{json_path(refusal.path)}: {refusal.message}")]


def schema_errors(schema: Any) -> list[str]:
    """Why `schema` is not a usable draft 2020-12 JSON Schema; [] when it is."""
    if unstorable := _unstorable(schema):
        return unstorable
    if isinstance(schema, dict):
        declared = schema.get("$schema")
        if declared is not None and declared not in DRAFT_2020_12_URIS:
            return [
                f"$.$schema: only draft 2020-12 schemas are accepted "
                f"('https://json-schema.org/draft/2020-12/schema'), not {declared!r}."
            ]
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        return [_short(f"{error.json_path}: {error.message}")]
    except RecursionError:
        return ["$: the schema nests too deeply to be checked."]
    return []


def document_errors(schema: Any, document: Any) -> list[str]:
    """Each way `document` fails `schema` (a valid schema), as "<JSON path>: <message>", sorted."""
    if unstorable := _unstorable(document):
        return unstorable
    validator = ProjectValidator(
        schema, registry=REGISTRY, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    messages = []
    try:
        for error in validator.iter_errors(document):
            messages.append(_short(f"{error.json_path}: {error.message}"))
            if len(messages) >= MAX_ERRORS:
                break
    except Unresolvable as error:
        # A `$ref` to something neither the schema nor the metaschemas contain: never fetched.
        messages.append(_short(f"$: the schema refers to {error.ref!r}, which cannot be resolved."))
    except RecursionError:
        # `{"$ref": "#"}` is a valid schema that refers to itself without end.
        messages.append("$: the schema's references loop without end; it cannot be applied.")
    return sorted(messages)
