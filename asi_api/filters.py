from rest_framework import filters
from rest_framework.exceptions import ValidationError


class SearchFilter(filters.SearchFilter):
    """Case-insensitive partial match over the view's `search_fields` (SPEC §1: `?search=`)."""


class OrderingFilter(filters.OrderingFilter):
    """`?ordering=field,-other` over the view's `ordering_fields`; an unknown field is a 400.

    DRF silently ignores unknown fields; SPEC §1 wants the caller told. Views may map public
    names to model paths with `ordering_aliases = {"birthdate": "athlete_profile__birth_date"}`.
    """

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
        return super().get_schema_operation_parameters(view)
