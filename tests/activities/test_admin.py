"""Admin pages: schemas are read-only once created; activities are changed through services."""

import pytest

from activities.models import Activity, JsonSchema
from tests.conftest import TENNIS_MATCH

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(client, admin):
    admin.is_staff = True
    admin.save()
    client.force_login(admin)
    return client


def test_it_lists_and_searches_schemas_and_activities(site, match):
    assert site.get("/admin/activities/jsonschema/?q=tennis").status_code == 200
    assert site.get("/admin/activities/activity/?q=wimbledon").status_code == 200
    assert (
        site.get(
            f"/admin/activities/activity/?json_schema__id__exact={match.json_schema_id}"
        ).status_code
        == 200
    )


def test_it_shows_a_schema_read_only(site, tennis):
    page = site.get(f"/admin/activities/jsonschema/{tennis.pk}/change/")
    assert page.status_code == 200
    assert b'name="schema"' not in page.content
    site.post(f"/admin/activities/jsonschema/{tennis.pk}/change/", {"name": "renamed"})
    tennis.refresh_from_db()
    assert tennis.name == "tennis"
    assert site.get(f"/admin/activities/jsonschema/{tennis.pk}/delete/").status_code == 403


def test_it_adds_a_schema_version_and_shows_service_errors(site, tennis):
    bad = site.post(
        "/admin/activities/jsonschema/add/",
        {"name": "", "type": "", "parent": tennis.pk, "schema": '{"type": "nope"}'},
    )
    assert bad.status_code == 200
    assert b"$.type" in bad.content
    good = site.post(
        "/admin/activities/jsonschema/add/",
        {"name": "", "type": "", "parent": tennis.pk, "schema": '{"type": "object"}'},
    )
    assert good.status_code == 302
    assert JsonSchema.objects.get(name="tennis", version=2).parent == tennis


def test_it_creates_activities_through_the_rules(site, alice, carol, tennis, recorded):
    form = {"name": "Admin match", "json_schema": tennis.pk, "json": '{"sport": "tennis"}'}
    refused = site.post("/admin/activities/activity/add/", form | {"owner": carol.pk})
    assert refused.status_code == 200
    assert b"not a manager" in refused.content
    invalid = site.post("/admin/activities/activity/add/", form | {"owner": alice.pk})
    assert invalid.status_code == 200
    assert b"$: &#x27;type&#x27; is a required property" in invalid.content
    created = site.post(
        "/admin/activities/activity/add/",
        form | {"owner": alice.pk, "json": '{"sport": "tennis", "type": "match"}'},
    )
    assert created.status_code == 302
    activity = Activity.objects.get(name="Admin match")
    assert activity.json == TENNIS_MATCH
    assert [e.name for e in recorded["in_transaction"]] == ["activity-created"]


def test_it_deletes_activities_through_the_service(site, match, recorded):
    response = site.post(f"/admin/activities/activity/{match.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Activity.objects.exists()
    assert [e.name for e in recorded["in_transaction"]] == ["activity-deleted"]
