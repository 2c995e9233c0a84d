"""The shipped schemas (data migration + `manage.py load_default_schemas`)."""

import copy
from io import StringIO

import pytest
from django.core.management import call_command
from jsonschema import Draft202012Validator

from activities import default_schemas
from activities.models import JsonSchema
from activities.validation import document_errors

pytestmark = pytest.mark.django_db

SPORTS = ["soccer", "tennis", "rugby", "basketball", "running"]


def test_the_migration_ships_one_activity_schema_per_sport_and_the_params_schema():
    shipped = {s.name: s for s in JsonSchema.objects.filter(version=1)}
    for sport in SPORTS:
        assert shipped[sport].type == "activity"
    assert shipped["timeframe-analytics-params"].type == "timeframe"
    for schema in shipped.values():
        Draft202012Validator.check_schema(schema.schema)


def test_the_guide_example_satisfies_the_tennis_schema():
    tennis = JsonSchema.objects.get(name="tennis", version=1)
    assert document_errors(tennis.schema, {"sport": "tennis", "type": "match"}) == []


@pytest.mark.parametrize("sport", SPORTS)
def test_each_sport_schema_accepts_its_sport_and_refuses_another(sport):
    schema = JsonSchema.objects.get(name=sport, version=1).schema
    kind = schema["properties"]["type"]["enum"][0]
    assert document_errors(schema, {"sport": sport, "type": kind}) == []
    assert document_errors(schema, {"sport": "curling", "type": kind}) == [
        f"$.sport: '{sport}' was expected"
    ]


def test_the_params_schema_declares_type_range_and_default_of_every_spec_parameter():
    schema = JsonSchema.objects.get(name="timeframe-analytics-params").schema
    spec_params = {
        "max_gap": 1.0,
        "max_plausible_speed": 12.5,
        "speed_smoothing": 0.5,
        "max_speed_min_duration": 0.5,
        "speed_ranges": [0, 2, 4, 5.5, 7],
        "hid_threshold": 5.5,
        "sprint_threshold": 7.0,
        "sprint_min_duration": 1.0,
        "acceleration_thresholds": [2, 3],
        "acceleration_min_duration": 0.5,
        "hr_zones": [50, 60, 70, 80, 90],
        "hr_plot_interval": 5,
        "intensity_slice": 300,
        "peak_windows": [1, 3, 5],
    }
    properties = schema["properties"]
    assert properties.keys() == spec_params.keys()
    for name, default in spec_params.items():
        declared = properties[name]
        assert declared["default"] == default, name
        assert declared["type"] in ("number", "array"), name
        bounds = declared["items"] if declared["type"] == "array" else declared
        assert "maximum" in bounds and ({"minimum", "exclusiveMinimum"} & bounds.keys()), name
    defaults = {name: declared["default"] for name, declared in properties.items()}
    assert document_errors(schema, defaults) == []
    assert document_errors(schema, {}) == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"max_gap": 0}, "$.max_gap: 0 is less than or equal to the minimum of 0"),
        ({"hr_zones": [50, 120]}, "$.hr_zones[1]: 120 is greater than the maximum of 100"),
        ({"speed_ranges": []}, "$.speed_ranges: [] should be non-empty"),
        ({"peak_windows": [1.5]}, "$.peak_windows[0]: 1.5 is not of type 'integer'"),
        ({"max_gapp": 1}, "$: Additional properties are not allowed ('max_gapp' was unexpected)"),
    ],
)
def test_the_params_schema_names_bad_parameters(params, message):
    schema = JsonSchema.objects.get(name="timeframe-analytics-params").schema
    assert document_errors(schema, params) == [message]


def test_the_command_is_idempotent():
    before = JsonSchema.objects.count()
    out = StringIO()
    call_command("load_default_schemas", stdout=out)
    assert JsonSchema.objects.count() == before
    assert "tennis: unchanged" in out.getvalue()
    assert "0 schema version(s) added" in out.getvalue()


def test_the_command_installs_missing_schemas_and_versions_changed_ones(monkeypatch):
    JsonSchema.objects.filter(name="running").delete()
    changed = copy.deepcopy(default_schemas.ACTIVITY_SCHEMAS["tennis"])
    changed["required"] = ["sport", "type", "surface"]
    definitions = [
        (name, kind, changed if name == "tennis" else schema)
        for name, kind, schema in default_schemas.DEFAULT_SCHEMAS
    ]
    monkeypatch.setattr(default_schemas, "DEFAULT_SCHEMAS", definitions)
    out = StringIO()
    call_command("load_default_schemas", stdout=out)
    assert "running: created" in out.getvalue()
    assert "tennis: new version" in out.getvalue()
    v2 = JsonSchema.objects.get(name="tennis", version=2)
    assert v2.parent == JsonSchema.objects.get(name="tennis", version=1)
    assert v2.schema == changed
    call_command("load_default_schemas", stdout=StringIO())
    assert JsonSchema.objects.filter(name="tennis").count() == 2
