"""A small world for the hostile-input tests, built through the API itself, and the URL conf's
operations to throw input at.

`scene`: admin created device `band`; alice (manager) owns it; carol (athlete) gave alice WRITE
and READ until 2100; alice has the `tennis` activity and a timeframe an hour from now; admin
made a JSON schema. Every id a path can take comes from it.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from drf_spectacular.generators import EndpointEnumerator

PROJECT_APPS = ("users", "devices", "activities", "timeframes", "analytics", "webhooks")
# The OAuth tables too: a hostile request must not leave a token or grant behind.
OAUTH_APP = "oauth2_provider"


def row_counts() -> dict[str, int]:
    """Rows of every model of the project (and DOT's), to prove a refused request stored
    nothing."""
    return {
        model._meta.label: model._default_manager.count()
        for config in apps.get_app_configs()
        if config.label in (*PROJECT_APPS, OAUTH_APP)
        for model in config.get_models()
    }


@dataclass
class Scene:
    device: dict
    activity: dict
    timeframe: dict
    json_schema: dict
    grant: dict
    ownership_id: int
    alice_id: int
    carol_id: int
    webhook_id: int
    delivery_id: int


@pytest.fixture
def scene(api, admin, alice, carol) -> Scene:
    tennis = api(admin).get("/api/v1/json-schemas/?name=tennis").json()["results"][0]
    device = api(admin).post(
        "/api/v1/devices/", {"device_name": "a1b2c3d4e5f8", "serial_number": "SN-0001"}
    )
    assert device.status_code == 201, device.content
    device = device.json()
    ownership = api(alice).post(
        f"/api/v1/devices/{device['id']}/take-ownership/",
        {"device_name": "a1b2c3d4e5f8", "serial_number": "SN-0001"},
    )
    assert ownership.status_code == 201, ownership.content
    grants = f"/api/v1/athletes/{carol.pk}/managers/{alice.pk}/permissions/"
    for permission in ("WRITE", "READ"):
        grant = api(carol).post(
            grants,
            {
                "permission": permission,
                "start_time": "2020-01-01T00:00:00Z",
                "expiration_time": "2100-01-01T00:00:00Z",
            },
        )
        assert grant.status_code == 201, grant.content
    activity = api(alice).post(
        "/api/v1/activities/",
        {
            "name": "Match",
            "json": {"sport": "tennis", "type": "match"},
            "json_schema": tennis["id"],
        },
    )
    assert activity.status_code == 201, activity.content
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    timeframe = api(alice).post(
        "/api/v1/timeframes/",
        {
            "start_time": start.isoformat(),
            "end_time": (start + timedelta(hours=1)).isoformat(),
            "device": device["id"],
            "activity": activity.json()["id"],
            "athlete": carol.pk,
        },
    )
    assert timeframe.status_code == 201, timeframe.content
    json_schema = api(admin).post(
        "/api/v1/json-schemas/",
        {"name": "notes", "type": "activity", "schema": {"type": "object"}},
    )
    assert json_schema.status_code == 201, json_schema.content
    webhooks = f"/api/v1/activities/{activity.json()['id']}/webhooks/"
    webhook = api(alice).post(
        webhooks,
        # Nothing listens on the discard port: a ping fails at once, and nothing leaves the box.
        {"webhook_url": "http://127.0.0.1:9/hook", "secret_token": "56789ABCD"},
    )
    assert webhook.status_code == 201, webhook.content
    renamed = api(alice).patch(f"/api/v1/activities/{activity.json()['id']}/", {"name": "Final"})
    assert renamed.status_code == 200, renamed.content
    deliveries = api(alice).get(f"{webhooks}{webhook.json()['id']}/deliveries/").json()
    assert deliveries["count"] == 1, deliveries
    return Scene(
        device=device,
        activity=renamed.json(),  # as stored now, after the rename that made a delivery
        timeframe=timeframe.json(),
        json_schema=json_schema.json(),
        grant=grant.json(),
        ownership_id=ownership.json()["id"],
        alice_id=alice.pk,
        carol_id=carol.pk,
        webhook_id=webhook.json()["id"],
        delivery_id=deliveries["results"][0]["id"],
    )


def path_for(template: str, scene: Scene) -> str:
    """`/api/v1/activities/{id}/` → the scene's activity URL, and so on for every parameter."""

    def value(match: re.Match) -> str:
        resource, name = match.group(1), match.group(2)
        if name == "athlete_id":
            return str(scene.carol_id)
        if name == "manager_id":
            return str(scene.alice_id)
        if name == "webhook_id":
            return str(scene.webhook_id)
        ids = {
            "activities": scene.activity["id"],
            "athletes": scene.carol_id,
            "managers": scene.alice_id,
            "permissions": scene.grant["id"],
            "devices": scene.device["id"],
            "device-ownerships": scene.ownership_id,
            "json-schemas": scene.json_schema["id"],
            "timeframes": scene.timeframe["id"],
            "webhooks": scene.webhook_id,
            "deliveries": scene.delivery_id,
        }
        return str(ids[resource])

    return re.sub(r"([\w-]+)/\{(\w+)\}", lambda m: f"{m.group(1)}/{value(m)}", template)


def api_operations(methods: set[str]) -> list[tuple[str, str]]:
    """(method, path template) of every REST operation in the URL conf with one of `methods`."""
    found = set()
    for path, _regex, method, _view in EndpointEnumerator().get_api_endpoints():
        if path.startswith("/api/v1/") and method in methods:
            found.add((method, path))
    return sorted(found)
