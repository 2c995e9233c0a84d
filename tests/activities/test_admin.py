"""Admin pages: schemas are read-only once created; activities are changed through services."""

import pytest

from activities.models import Activity, JsonSchema
from tests.conftest import TENNIS_MATCH

pytestmark = pytest.mark.django_db


def test_it_lists_and_searches_schemas_and_activities(admin_browser, match):
    assert admin_browser.get("/admin/activities/jsonschema/?q=tennis").status_code == 200
    assert admin_browser.get("/admin/activities/activity/?q=wimbledon").status_code == 200
    assert (
        admin_browser.get(
            f"/admin/activities/activity/?json_schema__id__exact={match.json_schema_id}"
        ).status_code
        == 200
    )


def test_it_shows_a_schema_read_only(admin_browser, tennis):
    page = admin_browser.get(f"/admin/activities/jsonschema/{tennis.pk}/change/")
    assert page.status_code == 200
    assert b'name="schema"' not in page.content
    admin_browser.post(f"/admin/activities/jsonschema/{tennis.pk}/change/", {"name": "renamed"})
    tennis.refresh_from_db()
    assert tennis.name == "tennis"
    assert admin_browser.get(f"/admin/activities/jsonschema/{tennis.pk}/delete/").status_code == 403


def test_it_adds_a_schema_version_and_shows_service_errors(admin_browser, tennis):
    bad = admin_browser.post(
        "/admin/activities/jsonschema/add/",
        {"name": "", "type": "", "parent": tennis.pk, "schema": '{"type": "nope"}'},
    )
    assert bad.status_code == 200
    assert b"$.type" in bad.content
    good = admin_browser.post(
        "/admin/activities/jsonschema/add/",
        {"name": "", "type": "", "parent": tennis.pk, "schema": '{"type": "object"}'},
    )
    assert good.status_code == 302
    assert JsonSchema.objects.get(name="tennis", version=2).parent == tennis


def test_it_creates_activities_through_the_rules(admin_browser, alice, carol, tennis, emitted):
    form = {"name": "Admin match", "json_schema": tennis.pk, "json": '{"sport": "tennis"}'}
    refused = admin_browser.post("/admin/activities/activity/add/", form | {"owner": carol.pk})
    assert refused.status_code == 200
    assert b"not a manager" in refused.content
    invalid = admin_browser.post("/admin/activities/activity/add/", form | {"owner": alice.pk})
    assert invalid.status_code == 200
    assert b"$: &#x27;type&#x27; is a required property" in invalid.content
    created = admin_browser.post(
        "/admin/activities/activity/add/",
        form | {"owner": alice.pk, "json": '{"sport": "tennis", "type": "match"}'},
    )
    assert created.status_code == 302
    activity = Activity.objects.get(name="Admin match")
    assert activity.json == TENNIS_MATCH
    assert [e.name for e in emitted] == ["activity-created"]


def test_it_deletes_activities_through_the_service(admin_browser, match, emitted):
    response = admin_browser.post(f"/admin/activities/activity/{match.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Activity.objects.exists()
    assert [e.name for e in emitted] == ["activity-deleted"]
