"""Demo activity of `make run`: the getting-started guide's tennis match, owned by alice."""

from activities.default_schemas import default_schemas_install
from activities.models import Activity, JsonSchema
from activities.services import activity_create
from users.models import User

DEMO_ACTIVITY = "Tennis match of 30 may 2020 at Wimbledon"


def load() -> list[str]:
    default_schemas_install(JsonSchema)
    tennis = JsonSchema.objects.filter(name="tennis").order_by("-version").first()
    alice = User.objects.get(username="alice")
    activity = Activity.objects.filter(name=DEMO_ACTIVITY, owner=alice).first()
    if activity is None:
        activity = activity_create(
            actor=alice,
            name=DEMO_ACTIVITY,
            json={"sport": "tennis", "type": "match"},
            json_schema=tennis,
        )
    schemas = ", ".join(f"{s.name}={s.pk}" for s in JsonSchema.objects.order_by("pk"))
    return [
        f"JSON schemas: {schemas}",
        f"Activity {activity.pk}: '{activity.name}' (owner alice)",
    ]
