"""The list filters of every endpoint (SPEC §1): the filter classes every filterset uses for ids,
booleans and datetimes (one parser each, asi_api.fields), search and ordering.

A filterset declares its ids with `IdFilter`, its booleans with `BooleanFilter` and its datetimes
with `DateTimeFilter`, never django-filter's `NumberFilter`, `BooleanFilter`, `ChoiceFilter` of
true/false or `IsoDateTimeFilter` (tests/asi_api/test_hostile_filters.py walks the URL conf to
hold every filterset to it).
"""

import django_filters
from rest_framework import filters
from rest_framework.exceptions import ValidationError

from asi_api.fields import BooleanFormField, DateTimeFormField, IdFormField


class IdFilter(django_filters.Filter):
    """An id (`?device=12`): ASCII digits from 1 to 2^63 − 1; `5.9`, `5.0`, `-1` or `2^63` → 400."""

    field_class = IdFormField


class BooleanFilter(django_filters.Filter):
    """`true`/`false` in any case, or `1`/`0`; any other word → 400, empty → no filter."""

    field_class = BooleanFormField


class DateTimeFilter(django_filters.Filter):
    """ISO 8601 (SPEC §1), within years 1–9999 once in UTC (`0001-01-01T00:00:00+01:00` → 400)."""

    field_class = DateTimeFormField


class SearchFilter(filters.SearchFilter):
    """Case-insensitive partial match over the view's `search_fields` (SPEC §1: `?search=`)."""

    def get_search_terms(self, request) -> list[str]:
        # DRF raises a bare list (`["Null characters are not allowed."]`): name the parameter.
        try:
            return super().get_search_terms(request)
        except ValidationError as error:
            raise ValidationError({self.search_param: error.detail}) from None


class OrderingFilter(filters.OrderingFilter):
    """`?ordering=field,-other` over the view's `ordering_fields`; an unknown field is a 400.

    DRF silently ignores unknown fields; SPEC §1 wants the caller told. Views may map public
    names to model paths with `ordering_aliases = {"birthdate": "athlete_profile__birth_date"}`.

    Every ordering, the caller's and the view's default alike, ends with the primary key: rows
    tied on the ordering fields (forty activities with one name) have no fixed order in
    PostgreSQL, so LIMIT/OFFSET pages would repeat one row and skip another. This is the one
    place that makes list orders total.
    """

    def filter_queryset(self, request, queryset, view):
        queryset = super().filter_queryset(request, queryset, view)
        ordering = list(queryset.query.order_by)
        if not ordering and queryset.query.default_ordering:
            ordering = list(queryset.model._meta.ordering)
        pk = queryset.model._meta.pk.name
        if not {"pk", "-pk", pk, f"-{pk}"} & {term for term in ordering if isinstance(term, str)}:
            queryset = queryset.order_by(*ordering, "pk")
        return queryset

    def get_ordering(self, request, queryset, view):
        raw = request.query_params.get(self.ordering_param)
        if not raw:
            return self.get_default_ordering(view)
        aliases = getattr(view, "ordering_aliases", {})
        allowed = set(getattr(view, "ordering_fields", None) or ()) | set(aliases)
        ordering = []
        for term in (part.strip() for part in raw.split(",")):
            if not term:
                continue
            descending = term.startswith("-")
            name = term.lstrip("-")
            if name not in allowed:
                choices = ", ".join(sorted(allowed)) or "none"
                raise ValidationError(
                    {"ordering": [f"Unknown ordering field '{name}'. Allowed: {choices}."]}
                )
            ordering.append(("-" if descending else "") + aliases.get(name, name))
        return ordering or self.get_default_ordering(view)

    def get_schema_operation_parameters(self, view):
        names = sorted(
            set(getattr(view, "ordering_fields", None) or ())
            | set(getattr(view, "ordering_aliases", {}))
        )
        if not names:
            return []
        choice = "-?(" + "|".join(names) + ")"
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": (
                    "Comma-separated fields to order by, `-` for descending (ties are broken by "
                    f"id): {', '.join(names)}. Any other field is a 400."
                ),
                "schema": {"type": "string", "pattern": f"^{choice}(,{choice})*$"},
            }
        ]
