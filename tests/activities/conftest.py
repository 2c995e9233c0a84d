"""The activities scene, with the cast and builders of tests/conftest.py: alice owns the tennis
`match`; carol plays in it, in a timeframe on device `band` on the match evening (stored directly
by `make_timeframe`: these tests are about activities, not timeframe rules); trent holds READ on
carol where a story gives it; mallory has nothing; bob has no timeframe.
"""

import pytest

from activities.models import JsonSchema


@pytest.fixture
def soccer(db) -> JsonSchema:
    return JsonSchema.objects.get(name="soccer", version=1)
