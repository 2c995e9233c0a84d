"""Activity and schema services called directly (admin, commands and other apps do)."""

import pytest

from activities.models import Activity, JsonSchema
from activities.selectors import activities_visible_to
from activities.services import (
    JsonInvalid,
    activities_delete_owned,
    activity_create,
    json_schema_create,
    json_validate,
)
from asi_api.errors import RuleViolation
from asi_api.events import DomainEvent
from tests.conftest import TENNIS_MATCH

pytestmark = pytest.mark.django_db


def test_it_lets_only_admins_create_schemas(alice):
    with pytest.raises(RuleViolation):
        json_schema_create(actor=alice, name="squash", type="activity", schema={})


def test_it_deletes_every_activity_of_a_leaving_manager_with_events(
    alice, trent, make_activity, band, make_timeframe, emitted
):
    first, second = make_activity("One"), make_activity("Two")
    kept = make_activity("Trent's", owner=trent)
    timeframe = make_timeframe(band, second)
    assert activities_delete_owned(owner=alice) == 2
    assert list(Activity.objects.all()) == [kept]
    assert emitted == [
        DomainEvent("activity-deleted", first.pk),
        DomainEvent("timeframe-deleted", second.pk, timeframe.pk),
        DomainEvent("activity-deleted", second.pk),
    ]


def test_json_validate_reports_on_the_field_it_is_given(params_schema):
    with pytest.raises(JsonInvalid) as caught:
        json_validate(json_schema=params_schema, value={"max_gap": -1}, field="params")
    assert caught.value.as_body() == {
        "params": ["$.max_gap: -1 is less than or equal to the minimum of 0"]
    }
    assert caught.value.status_code == 400


def test_activity_create_refuses_athletes(carol, tennis):
    with pytest.raises(RuleViolation):
        activity_create(actor=carol, name="M", json=TENNIS_MATCH, json_schema=tennis)


def test_anonymous_users_see_no_activity(match):
    from django.contrib.auth.models import AnonymousUser

    assert not activities_visible_to(AnonymousUser()).exists()


def test_demo_data_creates_the_guide_activity_once():
    from activities import demo
    from users import demo as users_demo

    users_demo.load()
    demo.load()
    lines = demo.load()
    assert "tennis=" in lines[0]
    demo = Activity.objects.get(name="Tennis match of 30 may 2020 at Wimbledon")
    assert demo.owner.username == "alice"
    assert demo.json_schema == JsonSchema.objects.get(name="tennis", version=1)
