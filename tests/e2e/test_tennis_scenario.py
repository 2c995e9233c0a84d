"""The getting-started guide's tennis scenario (seed/), end to end over real HTTP.

Manager A prepares a tennis match between athletes B and C: everyone registers through the API,
an admin creates two devices, A takes both, B and C grant A WRITE and READ, A creates the
activity and one timeframe per athlete, then reads them back. Ids come from the responses, and
the dates are moved after A's ownership start (the guide's 2020 dates predate it).
"""

import io
from datetime import UTC, datetime, timedelta

import pytest
import requests
from django.core.management import call_command

from tests.conftest import PASSWORD
from users.models import User

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


class Client:
    """A small AMS: the password grant for a token, then JSON calls with the bearer token."""

    def __init__(self, base: str, app: tuple, username: str, password: str) -> None:
        self.base = base
        application, secret = app
        response = requests.post(
            f"{base}/oauth2/token/",
            data={"grant_type": "password", "username": username, "password": password},
            auth=(application.client_id, secret),
            timeout=10,
        )
        assert response.status_code == 200, response.text
        assert response.json()["scope"] == "all"
        self.headers = {"Authorization": f"Bearer {response.json()['access_token']}"}

    def call(self, method: str, path: str, expect: int = 200, **kwargs) -> dict:
        response = requests.request(
            method, f"{self.base}/api/v1/{path}", headers=self.headers, timeout=10, **kwargs
        )
        assert response.status_code == expect, (method, path, response.text)
        return response.json() if response.content else {}

    def get(self, path: str, **params) -> dict:
        return self.call("GET", path, params=params)

    def post(self, path: str, json: dict, expect: int = 201) -> dict:
        return self.call("POST", path, expect=expect, json=json)


def register(base: str, kind: str, username: str, profile: dict) -> dict:
    response = requests.post(
        f"{base}/api/v1/{kind}s/",
        json={
            "username": username,
            "email": f"{username}@example.org",
            "password": PASSWORD,
            f"{kind}_profile": profile,
        },
        timeout=10,
    )
    assert response.status_code == 201, response.text
    assert "password" not in response.json()
    return response.json()


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_the_guides_tennis_scenario(live_server, make_application, admin):
    base = live_server.url
    # What an operator runs once; transactional tests flush what the data migration installed.
    call_command("load_default_schemas", stdout=io.StringIO())
    app = make_application(grant_type="password")

    # Manager A and athletes B and C register (no authentication needed).
    a = register(base, "manager", "manager_a", {"first_name": "Anna", "last_name": "Coach"})
    b = register(base, "athlete", "athlete_b", {"first_name": "Boris", "last_name": "Becker"})
    c = register(base, "athlete", "athlete_c", {"first_name": "Chris", "last_name": "Evert"})
    assert User.objects.get(pk=a["id"]).is_manager
    as_a = Client(base, app, "manager_a", PASSWORD)
    as_b = Client(base, app, "athlete_b", PASSWORD)
    as_c = Client(base, app, "athlete_c", PASSWORD)

    # The admin creates devices 1 and 2; A takes ownership of both (it starts now).
    as_admin = Client(base, app, admin.username, PASSWORD)
    devices = [
        as_admin.post("devices/", {"device_name": name, "serial_number": serial})
        for name, serial in (("a1b2c3d4e5f8", "ASI-TENNIS-1"), ("a1b2c3d4e5f9", "ASI-TENNIS-2"))
    ]
    for device in devices:
        proof = {"serial_number": device["serial_number"], "device_name": device["device_name"]}
        ownership = as_a.post(f"devices/{device['id']}/take-ownership/", proof, expect=201)
        assert ownership["manager"] == a["id"]
        assert ownership["end_time"] == "2999-12-31T23:59:59Z"

    # B and C give A WRITE (to schedule timeframes) and READ (to read the results) for a year.
    now = datetime.now(UTC).replace(microsecond=0)
    window = {
        "start_time": iso(now - timedelta(days=1)),
        "expiration_time": iso(now + timedelta(days=365)),
    }
    for athlete, client in ((b, as_b), (c, as_c)):
        for permission in ("WRITE", "READ"):
            grant = client.post(
                f"athletes/{athlete['id']}/managers/{a['id']}/permissions/",
                {"permission": permission, **window},
            )
            assert (grant["athlete"], grant["manager"]) == (athlete["id"], a["id"])

    # A creates the activity with the tennis schema.
    schemas = {s["name"]: s for s in as_a.get("json-schemas/", limit=500)["results"]}
    activity = as_a.post(
        "activities/",
        {
            "name": "Tennis match at Wimbledon",
            "json": {"sport": "tennis", "type": "match"},
            "json_schema": schemas["tennis"]["id"],
            "owner": a["id"],
        },
    )

    # A creates one timeframe per athlete, 20:00–22:00 on the match day (after the ownership
    # started), exactly as the guide's bodies, with the ids from the responses.
    match_day = (now + timedelta(days=2)).replace(hour=20, minute=0, second=0)
    timeframe_schema = schemas["timeframe-analytics-params"]
    assert timeframe_schema["type"] == "timeframe"
    timeframes = {}
    for athlete, device in ((b, devices[0]), (c, devices[1])):
        timeframes[athlete["id"]] = as_a.post(
            "timeframes/",
            {
                "start_time": iso(match_day),
                "end_time": iso(match_day + timedelta(hours=2)),
                "params": {},
                "device": device["id"],
                "activity": activity["id"],
                "athlete": athlete["id"],
                "owner": a["id"],
                "json_schema": timeframe_schema["id"],
            },
        )
    # Device 1 is taken for that evening: a third timeframe on it is a conflict.
    clash = as_a.post(
        "timeframes/",
        {
            "start_time": iso(match_day + timedelta(hours=1)),
            "end_time": iso(match_day + timedelta(hours=3)),
            "device": devices[0]["id"],
            "activity": activity["id"],
            "athlete": c["id"],
        },
        expect=409,
    )
    assert "overlapping" in clash["detail"]

    # A reads them back with everything embedded.
    listed = as_a.get(
        "timeframes/",
        activity=activity["id"],
        with_device="true",
        with_athlete="true",
        with_activity="true",
    )
    assert listed["count"] == 2
    by_athlete = {row["athlete"]: row for row in listed["results"]}
    assert set(by_athlete) == {b["id"], c["id"]}
    for athlete, device in ((b, devices[0]), (c, devices[1])):
        row = by_athlete[athlete["id"]]
        assert row["start_time"] == match_day.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert row["device_details"]["device_name"] == device["device_name"]
        assert row["athlete_details"]["username"] == athlete["username"]
        assert row["activity_details"]["name"] == "Tennis match at Wimbledon"
        assert row["owner"] == a["id"]
    one = as_a.get(f"timeframes/{timeframes[b['id']]['id']}/", with_device="true")
    assert one["device_details"]["id"] == devices[0]["id"]

    # B sees his own timeframe only, read-only; C's is not found for him.
    mine = as_b.get("timeframes/")
    assert [row["id"] for row in mine["results"]] == [timeframes[b["id"]]["id"]]
    as_b.call("GET", f"timeframes/{timeframes[c['id']]['id']}/", expect=404)
    as_b.call("PATCH", f"timeframes/{timeframes[b['id']]['id']}/", expect=403, json={})
