"""One row of every listed thing, made through the API as its users would make it.

alice (manager) owns a device and an activity with one timeframe of carol (athlete), who gave
her WRITE and READ for a year. Built over HTTP, so it does not depend on model or service names.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rest_framework.test import APIClient

from users.models import User


@dataclass
class World:
    device: int
    activity: int
    timeframe: int
    grant: int
    json_schema: int


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def expect(response, status: int) -> dict:
    assert response.status_code == status, response.content
    return response.json()


def world_build(
    api: Callable[..., APIClient], *, admin: User, alice: User, carol: User, tag: str = "0"
) -> World:
    as_admin, as_alice, as_carol = api(admin), api(alice), api(carol)
    device_name = f"a1b2c3d4e5f{tag}"
    device = expect(
        as_admin.post(
            "/api/v1/devices/", {"device_name": device_name, "serial_number": f"SN-{tag}"}
        ),
        201,
    )
    proof = {"serial_number": f"SN-{tag}", "device_name": device_name}
    expect(as_alice.post(f"/api/v1/devices/{device['id']}/take-ownership/", proof), 201)

    now = datetime.now(UTC).replace(microsecond=0)
    window = {
        "start_time": iso(now - timedelta(days=1)),
        "expiration_time": iso(now + timedelta(days=365)),
    }
    grants = f"/api/v1/athletes/{carol.pk}/managers/{alice.pk}/permissions/"
    grant = expect(as_carol.post(grants, {"permission": "WRITE", **window}), 201)
    expect(as_carol.post(grants, {"permission": "READ", **window}), 201)

    schemas = expect(as_alice.get("/api/v1/json-schemas/", {"name": "tennis"}), 200)["results"]
    activity = expect(
        as_alice.post(
            "/api/v1/activities/",
            {
                "name": "Match",
                "json": {"sport": "tennis", "type": "match"},
                "json_schema": schemas[0]["id"],
            },
        ),
        201,
    )
    timeframe = expect(
        as_alice.post(
            "/api/v1/timeframes/",
            {
                "start_time": iso(now + timedelta(hours=1)),
                "end_time": iso(now + timedelta(hours=2)),
                "device": device["id"],
                "activity": activity["id"],
                "athlete": carol.pk,
            },
        ),
        201,
    )
    return World(
        device=device["id"],
        activity=activity["id"],
        timeframe=timeframe["id"],
        grant=grant["id"],
        json_schema=schemas[0]["id"],
    )
