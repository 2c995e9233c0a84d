"""Every API view declares the OAuth scope it requires (FIELD-NOTES: DOT lets a view that forgets
`required_scopes` accept any token, so this is proven over the whole URL configuration)."""

from django.urls import URLPattern, URLResolver, get_resolver

KNOWN_SCOPES = {"all", "ingest"}


def _walk(patterns, prefix=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.callback


def api_views():
    for route, callback in _walk(get_resolver().url_patterns):
        if route.startswith("api/v1/"):
            yield route, callback


def test_it_finds_the_api_views():
    routes = [route for route, _ in api_views()]
    assert "api/v1/account/" in routes


def test_it_proves_every_api_view_declares_its_scopes():
    missing = []
    for route, callback in api_views():
        view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        assert view_class is not None, f"{route} is not a class-based DRF view"
        initkwargs = getattr(callback, "initkwargs", {}) or {}
        scopes = initkwargs.get("required_scopes") or getattr(view_class, "required_scopes", None)
        if not scopes or not set(scopes) <= KNOWN_SCOPES:
            missing.append(f"{route} ({view_class.__name__}): {scopes!r}")
    assert not missing, "views without a valid required_scopes:\n" + "\n".join(missing)
