from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from analytics.services import computed_empty
from timeframes.models import Timeframe


@extend_schema_field(OpenApiTypes.OBJECT)
class ComputedDocumentField(serializers.Field):
    """A timeframe's SPEC §7 document: the stored one, else the empty one (not computed yet)."""

    def to_representation(self, timeframe: Timeframe) -> dict:
        return timeframe_document(timeframe)


def timeframe_document(timeframe: Timeframe) -> dict:
    """The stored document of `timeframe`, or `computed_empty` when none is stored yet."""
    stored = getattr(timeframe, "computed", None)  # reverse one-to-one: absent → None
    return stored.data if stored is not None and stored.revision else computed_empty(timeframe)


class TimeframeComputedSerializer(serializers.Serializer):
    """One row of an activity's computed data: `{"timeframe": id, "data": {...}}`."""

    timeframe = serializers.IntegerField(source="pk")
    data = ComputedDocumentField(source="*")
