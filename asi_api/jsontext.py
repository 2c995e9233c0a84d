"""JSON the database can store: strict parsing and the checks behind it (no Django here).

Python's `json` accepts lone surrogates (`"\\ud800"`), NUL characters (`"\\u0000"`), NaN and
Infinity, and recurses without a bound; PostgreSQL's jsonb and text refuse the first ones (a 500
at insert), SQLite stores them and every later read fails, and deep nesting is a
`RecursionError` (500). So every JSON body goes through `json_parse` (asi_api.parsers):

* orjson (strict RFC 8259) refuses invalid UTF-8, lone surrogates in values and keys, NaN and
  Infinity, and nesting beyond 1024 levels, in C;
* nesting deeper than `MAX_JSON_DEPTH` is refused: Django's JSON encoder, DRF's renderer and
  jsonschema all recurse in Python and must never meet a document deep enough to overflow;
* NUL characters, in values or keys at any depth, are refused.

Ordinary bodies pay almost nothing for the last two (5 MiB of ingestion numbers: see
tests/asi_api/test_hostile_json.py): a text with at most `MAX_JSON_DEPTH` opening brackets
cannot be too deep, and one without the bytes `\\u0000` holds no NUL (JSON forbids a raw NUL in
a string and orjson enforces it), so the walks run only when those byte scans say they must.
Integers beyond 64 bits are read as floats (orjson's rule); no field of the API takes them.

JSON that arrives another way (the admin's form fields use Python's `json`) is checked with
`json_refusal` by the services that validate it.
"""

import json
from collections.abc import Iterator
from typing import Any

import orjson

# Deep enough for any document this API stores (packets are 3 levels, activity documents rarely
# 10); shallow enough that checking a schema this deep against the draft 2020-12 metaschema
# (~8 Python frames per schema level, measured) stays far below Python's recursion limit of
# 1000, which a schema of 64 levels already nears.
MAX_JSON_DEPTH = 32
NUL = "\x00"
_CONTAINERS = (dict, list)

Path = tuple[str | int, ...]


class JsonRefused(ValueError):
    """JSON this API does not accept. `path` says where (empty: the whole text); `in_key`
    whether the fault is in the key that ends the path rather than in its value."""

    def __init__(self, message: str, path: Path = (), *, in_key: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.in_key = in_key


def json_path(path: Path) -> str:
    """`("laps", 0, "note")` → `$.laps[0].note`, the notation of jsonschema's error paths."""
    parts = ["$"]
    for step in path:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        elif step.isidentifier():
            parts.append(f".{step}")
        else:
            # Python's json escapes what orjson refuses to write (a lone surrogate).
            parts.append(f"[{json.dumps(step)}]")
    return "".join(parts)


def _too_deep(value: Any, limit: int) -> bool:
    """Whether containers nest more than `limit` levels: breadth-first, no recursion.

    `set(map(type, ...))` runs in C, so a list of numbers costs nanoseconds per element.
    """
    level = [value] if isinstance(value, _CONTAINERS) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below: list = []
        for container in level:
            children = container.values() if type(container) is dict else container
            kinds = set(map(type, children))
            if dict in kinds or list in kinds:
                below.extend(child for child in children if type(child) in _CONTAINERS)
        level = below
    return False


def _text_fault(text: str) -> str | None:
    if NUL in text:
        return "null characters (\\u0000)"
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate has no UTF-8 form
        return "lone surrogates"
    return None


def _text_faults(value: Any, path: Path = ()) -> Iterator[tuple[str, Path, bool]]:
    """(fault, path, in a key?) of each string that cannot be stored. Recursion is safe here:
    the depth has been checked first."""
    if isinstance(value, str):
        if fault := _text_fault(value):
            yield fault, path, False
    elif isinstance(value, dict):
        for key, child in value.items():
            if fault := _text_fault(key):
                yield fault, (*path, key), True
            yield from _text_faults(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _text_faults(child, (*path, index))


def json_refusal(value: Any, *, check_text: bool = True) -> JsonRefused | None:
    """Why a parsed value may not be stored (nested too deep, a NUL or a lone surrogate in a
    string or key), or None. `check_text=False` skips the walk over every string."""
    if isinstance(value, _CONTAINERS) and _too_deep(value, MAX_JSON_DEPTH):
        return JsonRefused(f"JSON nested deeper than {MAX_JSON_DEPTH} levels is not accepted.")
    if check_text:
        for fault, path, in_key in _text_faults(value):
            where = "keys" if in_key else "strings"
            return JsonRefused(f"{fault} are not allowed in {where}.", path, in_key=in_key)
    return None


def json_parse(raw: bytes | str) -> Any:
    """Parse a JSON text; raise `JsonRefused` (a `ValueError`) for anything this API refuses."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise JsonRefused(str(error)) from None
    data = raw.encode() if isinstance(raw, str) else raw
    # Every nesting level opens with a bracket, and a NUL can only be written as this escape.
    nul_possible = b"\\u0000" in data
    if nul_possible or data.count(b"[") + data.count(b"{") > MAX_JSON_DEPTH:
        refusal = json_refusal(value, check_text=nul_possible)
        if refusal is not None:
            raise refusal
    return value
