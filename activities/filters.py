"""Query filters of the JSON schema and activity lists (SPEC §5). Malformed values are a 400."""

import django_filters

from activities.models import Activity, JsonSchema, SchemaType
from asi_api.filters import DateTimeFilter, IdFilter


class JsonSchemaFilter(django_filters.FilterSet):
    type = django_filters.ChoiceFilter(choices=SchemaType.choices)
    parent = IdFilter(field_name="parent_id")
    name = django_filters.CharFilter()

    class Meta:
        model = JsonSchema
        fields = ["type", "parent", "name"]


class ActivityFilter(django_filters.FilterSet):
    owner = IdFilter(field_name="owner_id")
    json_schema = IdFilter(field_name="json_schema_id")
    name = django_filters.CharFilter()
    # Half-open like every window: created_from ≤ created_at < created_to.
    created_from = DateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_to = DateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Activity
        fields = ["owner", "json_schema", "name", "created_from", "created_to"]
