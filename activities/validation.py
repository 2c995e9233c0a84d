"""JSON Schema checks over plain data (no Django): is a schema valid, does a document satisfy it.

Every message names where the problem is, as a JSON path (`$` = the document itself), so a
client can point at the failing field: `"$.sport: 'tennis' was expected"`.
"""

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from referencing.exceptions import Unresolvable

DRAFT_2020_12_URIS = frozenset(
    {
        "https://json-schema.org/draft/2020-12/schema",
        "https://json-schema.org/draft/2020-12/schema#",
    }
)
# A document failing many rules would otherwise produce an unbounded response.
MAX_ERRORS = 50
MAX_MESSAGE_CHARS = 300


def _short(message: str) -> str:
    # jsonschema quotes the failing value in its messages; a large value must not flood the body.
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return message[: MAX_MESSAGE_CHARS - 1] + "…"


def schema_errors(schema: Any) -> list[str]:
    """Why `schema` is not a usable draft 2020-12 JSON Schema; [] when it is."""
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
    return []


def document_errors(schema: Any, document: Any) -> list[str]:
    """Each way `document` fails `schema` (a valid schema), as "<JSON path>: <message>", sorted."""
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    messages = []
    try:
        for error in validator.iter_errors(document):
            messages.append(_short(f"{error.json_path}: {error.message}"))
            if len(messages) >= MAX_ERRORS:
                break
    except Unresolvable as error:
        # A `$ref` to something the schema does not contain: nothing is fetched from the network.
        messages.append(_short(f"$: the schema refers to {error.ref!r}, which cannot be resolved."))
    return sorted(messages)
