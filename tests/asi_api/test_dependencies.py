"""Apps depend one way: users ← devices ← activities ← timeframes ← analytics / streaming /
webhooks (ARCHITECTURE.md). A lower app announces a change with a domain event
(asi_api/events.py) and the higher app reacts from its `AppConfig.ready()`; it never imports the
higher app. This test reads every module of every app (ast, so imports inside functions count
too) and fails on any import the order does not allow.
"""

import ast
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]

# Each app may import the apps before it in this order.
CHAIN = ["users", "devices", "activities", "timeframes"]
# The leaves build on the whole chain; one leaf imports another only where listed here.
LEAVES = {
    "analytics": set(),
    # The streams send analytics' stored computed objects (snapshot, then updates).
    "streaming": {"analytics"},
    "webhooks": set(),
}
ALLOWED: dict[str, set[str]] = {
    app: set(CHAIN[:position]) for position, app in enumerate(CHAIN)
} | {leaf: set(CHAIN) | others for leaf, others in LEAVES.items()}

# The two deliberate upward reads that SPEC fixes, each with its reason next to the import.
EXCEPTIONS = {
    # SPEC §4: `GET /devices/?activity=` lists the devices worn in that activity's timeframes.
    ("devices.filters", "activities"),
    ("devices.filters", "timeframes"),
    # SPEC §5: an activity is visible to whoever may READ one of its timeframes.
    ("activities.selectors", "timeframes"),
}

# The project package: its plumbing (errors, events, permissions, ...) is imported by every app
# and imports none; only its wiring modules put the apps together.
PROJECT = "asi_api"
PROJECT_WIRING = {"asi_api.urls", "asi_api.asgi", "asi_api.wsgi", "asi_api.celery"}

APPS = [*CHAIN, *LEAVES]


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, root: Path = ROOT) -> set[str]:
    """Every module `path` imports, at the top or inside a function (relative ones resolved)."""
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package.pop()
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            # `from app import services` names a module too.
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def imports_of(package: str, root: Path = ROOT) -> list[tuple[str, str]]:
    """(importing module, imported app) for every import of another project app in `package`."""
    pairs = []
    for path in sorted((root / package).rglob("*.py")):
        importer = module_name(path, root)
        for module in imported_modules(path, root):
            app = module.split(".")[0]
            if app in APPS and app != package:
                pairs.append((importer, app))
    return sorted(set(pairs))


def test_every_app_imports_only_the_apps_below_it():
    forbidden = [
        f"{importer} imports {app}"
        for package in APPS
        for importer, app in imports_of(package)
        if app not in ALLOWED[package] and (importer, app) not in EXCEPTIONS
    ]
    assert forbidden == [], "announce a domain event instead (asi_api/events.py)"


def test_the_deliberate_exceptions_are_still_needed():
    # An exception nobody uses any more would let a new upward import in unnoticed.
    used = {pair for package in APPS for pair in imports_of(package)}
    assert used >= EXCEPTIONS


def test_the_project_plumbing_imports_no_app():
    forbidden = [
        f"{importer} imports {app}"
        for importer, app in imports_of(PROJECT)
        if importer not in PROJECT_WIRING
    ]
    assert forbidden == []


def test_the_walk_sees_local_and_relative_imports(tmp_path):
    # The walk itself: an import hidden in a function body, and relative ones.
    (tmp_path / "devices" / "management").mkdir(parents=True)
    probe = tmp_path / "devices" / "management" / "probe.py"
    probe.write_text(
        "from .. import models\n"
        "from ..selectors import ownerships_current\n"
        "def late():\n"
        "    import webhooks.tasks\n"
        "    from timeframes.services import timeframe_create\n"
    )
    assert {
        "devices.models",
        "devices.selectors",
        "webhooks.tasks",
        "timeframes.services",
    } <= imported_modules(probe, tmp_path)
    assert imports_of("devices", tmp_path) == [
        ("devices.management.probe", "timeframes"),
        ("devices.management.probe", "webhooks"),
    ]


def test_installed_apps_list_the_apps_in_dependency_order():
    # Reactions registered from `ready()` run in this order (lower apps first), and
    # `load_demo_data` loads each app's demo rows in it, on top of the rows below.
    installed = [app for app in settings.INSTALLED_APPS if app in APPS]
    assert installed[: len(CHAIN)] == CHAIN
    assert set(installed[len(CHAIN) :]) == set(LEAVES)
