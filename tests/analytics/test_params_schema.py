"""Impossible analytics parameters are refused when a timeframe is created or changed (400
naming the parameter), and every SPEC §7 parameter the engine knows is declared by the shipped
schema; the cycling activity schema ships beside the other sports."""

from datetime import UTC, datetime

import pytest

from activities.default_schemas import TIMEFRAME_PARAMS_SCHEMA
from activities.models import JsonSchema
from activities.validation import document_errors
from analytics.metrics import DEFAULT_PARAMS, params_effective
from users.models import PermissionKind

URL = "/api/v1/timeframes/"
YEAR_START = datetime(2020, 1, 1, tzinfo=UTC)
YEAR_END = datetime(2021, 1, 1, tzinfo=UTC)


@pytest.fixture
def setting(alice, carol, band, grant, own) -> None:
    """alice owns band since 2020 and may schedule carol in 2020."""
    own(band, alice, YEAR_START)
    grant(carol, alice, PermissionKind.WRITE, YEAR_START, YEAR_END)


def body(band, match, carol, params: dict) -> dict:
    return {
        "start_time": "2020-05-30T20:00:00.000Z",
        "end_time": "2020-05-30T22:00:00.000Z",
        "device": band.pk,
        "activity": match.pk,
        "athlete": carol.pk,
        "params": params,
    }


IMPOSSIBLE = [
    ({"hid_threshold": -1}, "$.hid_threshold"),
    ({"sprint_threshold": 0}, "$.sprint_threshold"),
    ({"acceleration_thresholds": [2, -3]}, "$.acceleration_thresholds[1]"),
    ({"max_plausible_speed": -5}, "$.max_plausible_speed"),
    ({"speed_ranges": [0, 4, 2]}, "$.speed_ranges"),
    ({"acceleration_thresholds": [3, 2]}, "$.acceleration_thresholds"),
    ({"hr_zones": [50, 70, 60]}, "$.hr_zones"),
    ({"peak_windows": [5, 1]}, "$.peak_windows"),
    ({"hr_zones": [50, 60, 110]}, "$.hr_zones[2]"),
    ({"speed_smoothing": -0.5}, "$.speed_smoothing"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("params", "where"), IMPOSSIBLE)
def test_it_refuses_impossible_params_at_create_naming_the_parameter(
    api, setting, alice, carol, band, match, params, where
):
    response = api(alice).post(URL, body(band, match, carol, params), format="json")

    assert response.status_code == 400
    errors = response.json()["params"]
    assert any(e.startswith(f"{where}:") for e in errors), errors


@pytest.mark.django_db
def test_it_refuses_unsorted_ranges_at_update_and_accepts_sorted_ones(
    api, setting, alice, carol, band, match
):
    created = api(alice).post(URL, body(band, match, carol, {}), format="json")
    url = f"{URL}{created.json()['id']}/"

    refused = api(alice).patch(url, {"params": {"speed_ranges": [0, 5, 3]}}, format="json")
    accepted = api(alice).patch(url, {"params": {"speed_ranges": [0, 3, 5]}}, format="json")

    assert refused.status_code == 400
    assert refused.json()["params"] == [
        "$.speed_ranges: [0, 5, 3] is not in strictly ascending order"
    ]
    assert accepted.status_code == 200


def test_the_schema_declares_every_engine_parameter_with_its_default():
    properties = TIMEFRAME_PARAMS_SCHEMA["properties"]
    assert properties.keys() == DEFAULT_PARAMS.keys()
    for name, default in DEFAULT_PARAMS.items():
        assert properties[name]["default"] == default, name
    defaults = {name: declared["default"] for name, declared in properties.items()}
    assert document_errors(TIMEFRAME_PARAMS_SCHEMA, defaults) == []
    assert params_effective(defaults) == params_effective()


@pytest.mark.django_db
def test_cycling_ships_as_an_activity_schema():
    cycling = JsonSchema.objects.get(name="cycling", version=1)

    assert cycling.type == "activity"
    assert document_errors(cycling.schema, {"sport": "cycling", "type": "race"}) == []
    assert params_effective(None, "cycling")["max_plausible_speed"] == 30.0
