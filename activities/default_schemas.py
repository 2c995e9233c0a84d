"""The JSON schemas the project ships (SPEC §5): one activity schema per sport, and the timeframe
analytics parameters of SPEC §7.

Installed by the data migrations `0002_default_schemas` and `0003_default_schemas_cycling` and by
`manage.py load_default_schemas`, all through `default_schemas_install`. Changing a definition here and running the command
records a new version (`parent` = the current latest) rather than editing a stored row: schemas
are immutable.
"""

from typing import Any

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

# The name of the analytics parameters schema; timeframes default to its latest version.
TIMEFRAME_PARAMS_SCHEMA_NAME = "timeframe-analytics-params"


def _sport(sport: str, kinds: list[str], extra: dict[str, Any]) -> dict[str, Any]:
    # Every sport schema requires `sport` (fixed to its sport) and `type`; the other properties
    # are optional metadata. Unknown properties are allowed so AMSs can keep their own fields.
    return {
        "$schema": DRAFT_2020_12,
        "title": f"{sport.capitalize()} activity",
        "type": "object",
        "required": ["sport", "type"],
        "properties": {
            "sport": {"const": sport},
            "type": {"enum": kinds, "description": "Kind of session."},
            "venue": {"type": "string", "maxLength": 255},
            "date": {"type": "string", "format": "date", "description": "YYYY-MM-DD"},
            "notes": {"type": "string", "maxLength": 10000},
            **extra,
        },
    }


_team = {"type": "string", "maxLength": 255}

ACTIVITY_SCHEMAS: dict[str, dict[str, Any]] = {
    "soccer": _sport(
        "soccer",
        ["match", "training"],
        {
            "home_team": _team,
            "away_team": _team,
            "competition": {"type": "string", "maxLength": 255},
            "half_duration": {
                "type": "integer",
                "minimum": 1,
                "maximum": 90,
                "default": 45,
                "description": "minutes",
            },
        },
    ),
    "tennis": _sport(
        "tennis",
        ["match", "training"],
        {
            "surface": {"enum": ["hard", "clay", "grass", "carpet"]},
            "format": {"enum": ["singles", "doubles"]},
            "best_of": {"enum": [3, 5], "default": 3},
            "tournament": {"type": "string", "maxLength": 255},
        },
    ),
    "rugby": _sport(
        "rugby",
        ["match", "training"],
        {
            "variant": {"enum": ["union", "league", "sevens"], "default": "union"},
            "home_team": _team,
            "away_team": _team,
            "competition": {"type": "string", "maxLength": 255},
            "half_duration": {
                "type": "integer",
                "minimum": 1,
                "maximum": 60,
                "default": 40,
                "description": "minutes",
            },
        },
    ),
    "basketball": _sport(
        "basketball",
        ["match", "training"],
        {
            "home_team": _team,
            "away_team": _team,
            "competition": {"type": "string", "maxLength": 255},
            "quarter_duration": {
                "type": "integer",
                "minimum": 1,
                "maximum": 20,
                "default": 10,
                "description": "minutes",
            },
        },
    ),
    "running": _sport(
        "running",
        ["race", "training", "intervals"],
        {
            "distance": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": 1000000,
                "description": "planned distance, metres",
            },
            "surface": {"enum": ["road", "track", "trail", "treadmill"]},
        },
    ),
    # A watch-like sport: its analytics profile (SPEC §7, analytics/metrics.py) bridges 60 s
    # gaps and accepts speeds up to 30 m/s.
    "cycling": _sport(
        "cycling",
        ["race", "training", "intervals", "commute"],
        {
            "distance": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": 10000000,
                "description": "planned distance, metres",
            },
            "discipline": {"enum": ["road", "track", "mountain", "gravel", "indoor"]},
        },
    ),
}


def _number(
    default: float, description: str, *, minimum: float, maximum: float, exclusive: bool = False
) -> dict:
    bound = "exclusiveMinimum" if exclusive else "minimum"
    return {
        "type": "number",
        "default": default,
        bound: minimum,
        "maximum": maximum,
        "description": description,
    }


def _numbers(default: list, description: str, items: dict) -> dict:
    # Lists of bounds must be strictly ascending, which standard JSON Schema cannot say: the
    # project's validator (activities/validation.py) implements the `ascending` keyword, which
    # other validators ignore as an unknown annotation.
    return {
        "type": "array",
        "default": default,
        "description": description,
        "items": items,
        "minItems": 1,
        "maxItems": 20,
        "uniqueItems": True,
        "ascending": True,
    }


# SPEC §7: every parameter optional, with its type, range and default. Durations are seconds,
# except `peak_windows` which are minutes (the result keys them "1", "3", "5").
TIMEFRAME_PARAMS_SCHEMA: dict[str, Any] = {
    "$schema": DRAFT_2020_12,
    "title": "Timeframe analytics parameters",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "max_gap": _number(
            1.0,
            "seconds; samples further apart start a new segment",
            minimum=0,
            maximum=3600,
            exclusive=True,
        ),
        "max_plausible_speed": _number(
            12.5,
            "m/s; GNSS samples above it are discarded as glitches",
            minimum=0,
            maximum=100,
            exclusive=True,
        ),
        "speed_smoothing": _number(
            0.5,
            "seconds; centred moving-average window on speed before acceleration (0 = none)",
            minimum=0,
            maximum=60,
        ),
        "max_speed_min_duration": _number(
            0.5,
            "seconds; max_speed is the highest speed held at least this long",
            minimum=0,
            maximum=60,
        ),
        "speed_ranges": _numbers(
            [0, 2, 4, 5.5, 7],
            "m/s; lower bounds of the speed ranges, ascending (last range open-ended)",
            {"type": "number", "minimum": 0, "maximum": 100},
        ),
        "hid_threshold": _number(
            5.5,
            "m/s; high-intensity distance threshold",
            minimum=0,
            maximum=100,
            exclusive=True,
        ),
        "sprint_threshold": _number(
            7.0, "m/s; sprint threshold", minimum=0, maximum=100, exclusive=True
        ),
        "sprint_min_duration": _number(1.0, "seconds; shortest sprint", minimum=0, maximum=600),
        "acceleration_thresholds": _numbers(
            [2, 3],
            "m/s²; one threshold_k entry per value, for accelerations and decelerations",
            {"type": "number", "exclusiveMinimum": 0, "maximum": 50},
        ),
        "acceleration_min_duration": _number(
            0.5, "seconds; shortest acceleration/deceleration effort", minimum=0, maximum=600
        ),
        "hr_zones": _numbers(
            [50, 60, 70, 80, 90],
            "% of athlete_max_hr; lower bounds of the heart-rate zones, ascending",
            {"type": "number", "minimum": 0, "maximum": 100},
        ),
        "hr_plot_interval": _number(
            5,
            "seconds; bucket of hr_plot",
            minimum=0,
            maximum=3600,
            exclusive=True,
        ),
        "intensity_slice": _number(
            300,
            "seconds; slice of intensity_graph (default 5 min)",
            minimum=0,
            maximum=86400,
            exclusive=True,
        ),
        "peak_windows": _numbers(
            [1, 3, 5],
            "minutes; windows of peak_distance",
            {"type": "integer", "minimum": 1, "maximum": 1440},
        ),
    },
}

# (name, type, schema) in installation order: on a fresh database the ids follow this order
# (soccer 1, tennis 2, ..., running 5, the timeframe schema 6). Schemas shipped later go at the
# end (cycling 7) so those ids stay put; a database migrated before cycling existed gets it, and
# the timeframe schema's version with `ascending` lists, from migration 0003.
LATER_SPORTS = ("cycling",)
DEFAULT_SCHEMAS: list[tuple[str, str, dict[str, Any]]] = [
    *((name, "activity", s) for name, s in ACTIVITY_SCHEMAS.items() if name not in LATER_SPORTS),
    (TIMEFRAME_PARAMS_SCHEMA_NAME, "timeframe", TIMEFRAME_PARAMS_SCHEMA),
    *((name, "activity", ACTIVITY_SCHEMAS[name]) for name in LATER_SPORTS),
]


def default_schemas_install(json_schema_model) -> list[tuple[str, str]]:
    """Make each shipped definition the latest version of its name; returns (name, outcome).

    Outcome is "created" (new name, version 1), "unchanged" (the latest version already holds
    this exact schema) or "new version" (the latest differs: a child row is added). Idempotent.
    Takes the model class so the data migration can pass its historical model.
    """
    outcomes = []
    for name, kind, schema in DEFAULT_SCHEMAS:
        latest = json_schema_model.objects.filter(name=name).order_by("-version").first()
        if latest is None:
            json_schema_model.objects.create(name=name, type=kind, version=1, schema=schema)
            outcomes.append((name, "created"))
        elif latest.schema == schema:
            outcomes.append((name, "unchanged"))
        else:
            json_schema_model.objects.create(
                name=name, type=kind, version=latest.version + 1, parent=latest, schema=schema
            )
            outcomes.append((name, "new version"))
    return outcomes
