"""How the API reads ids, booleans and datetimes: one parser each, for query strings and bodies.

Django, DRF and django-filter each read these their own way: `NumberFilter` takes `5.9` as a
decimal that the ORM truncates to 5, `PrimaryKeyRelatedField` does the same with `4.7` and
takes `true` for id 1, DRF's `BooleanField` takes `yes`/`on`/`t`, an id beyond 64 bits overflows
SQLite (500), and a datetime whose offset moves it outside years 1–9999 overflows on conversion
to UTC (500 on SQLite). The form fields (for django-filter, see asi_api.filters) and serializer
fields below all go through the three functions here.

Accepted spellings (docs/api.md, "Conventions"):
* id: ASCII digits (or a JSON integer in a body), from 1 to 2^63 − 1; not `5.0`, not `true`;
* boolean in a query string: `true`/`false` in any case, or `1`/`0`;
* datetime: ISO 8601 as SPEC §1 says, whose UTC equivalent falls within years 1–9999 (and
  which the filters then use in UTC).
"""

import re
from datetime import UTC, datetime

from django import forms
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField
from rest_framework import serializers

MAX_ID = 2**63 - 1  # PostgreSQL bigint, SQLite INTEGER
ID_MESSAGE = f"An id is a whole number from 1 to {MAX_ID}."
BOOLEAN_MESSAGE = "Must be true or false (or 1 or 0)."
DATETIME_RANGE_MESSAGE = "The datetime must fall within years 1 to 9999 once converted to UTC."
TRUE_WORDS = frozenset({"true", "1"})
FALSE_WORDS = frozenset({"false", "0"})
_DIGITS = re.compile(r"[0-9]+", re.ASCII)


def id_parse(value: object) -> int:
    """An id from a query string or a body; `ValueError(ID_MESSAGE)` for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        number = int(value)
    else:
        raise ValueError(ID_MESSAGE)
    if not 1 <= number <= MAX_ID:
        raise ValueError(ID_MESSAGE)
    return number


def bool_parse(value: str) -> bool:
    """A boolean from a query string; `ValueError(BOOLEAN_MESSAGE)` for any other word."""
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(BOOLEAN_MESSAGE)


def datetime_to_utc(value: datetime) -> datetime:
    """`value` (aware) in UTC; `ValueError(DATETIME_RANGE_MESSAGE)` if UTC cannot hold it.

    `0001-01-01T00:00:00+01:00` is valid ISO 8601 but year 0 in UTC: PostgreSQL would compare
    it, Python (and so Django on SQLite) cannot represent it. Converting also spares PostgreSQL
    offsets it refuses (it takes up to ±15:59, ISO 8601 and Python up to ±23:59).
    """
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(DATETIME_RANGE_MESSAGE) from None


# --- form fields: django-filter's filters (asi_api.filters) ----------------------------------


class IdFormField(forms.Field):
    def to_python(self, value: object) -> int | None:
        if value in self.empty_values:
            return None
        try:
            return id_parse(value)
        except ValueError as error:
            raise ValidationError(str(error), code="invalid") from None


class BooleanFormField(forms.Field):
    """django-filter's own BooleanWidget maps unknown words to "no filter", which SPEC §1
    forbids (malformed filter values are a 400)."""

    def to_python(self, value: object) -> bool | None:
        if value in self.empty_values:
            return None
        try:
            return bool_parse(str(value))
        except ValueError as error:
            raise ValidationError(str(error), code="invalid") from None


class DateTimeFormField(IsoDateTimeField):
    def to_python(self, value: object) -> datetime | None:
        result = super().to_python(value)
        if result is None:
            return None
        try:
            return datetime_to_utc(result)
        except ValueError as error:
            raise ValidationError(str(error), code="overflow") from None


# --- serializer fields -------------------------------------------------------------------------


class IdRelatedField(serializers.PrimaryKeyRelatedField):
    """`PrimaryKeyRelatedField` that reads its id with `id_parse` (no `4.7` → 4, no `true` → 1)."""

    def to_internal_value(self, data: object) -> object:
        try:
            pk = id_parse(data)
        except ValueError as error:
            raise serializers.ValidationError(str(error), code="incorrect_type") from None
        return super().to_internal_value(pk)


class QueryBooleanField(serializers.Field):
    """A boolean query parameter read by a serializer (`?with_device=true`), like the filters."""

    def to_internal_value(self, data: object) -> bool:
        if str(data).strip() == "":  # `?with_device=`: as if left out, like an empty filter
            return False
        try:
            return bool_parse(str(data))
        except ValueError as error:
            raise serializers.ValidationError(str(error), code="invalid") from None

    def to_representation(self, value: bool) -> bool:
        return value
