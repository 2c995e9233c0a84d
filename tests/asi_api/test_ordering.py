"""Every list order is total: the primary key ends it, so pages never repeat or skip a row.

Rows tied on the ordering fields have no fixed order in PostgreSQL: with LIMIT/OFFSET one page
can repeat a row of the previous one and another row is never shown (issue 7: forty activities
named alike, paged by seven). `asi_api.filters.OrderingFilter` appends the primary key to the
caller's ordering and to each view's default.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from activities.models import Activity, JsonSchema
from asi_api.filters import OrderingFilter
from users.models import Role

pytestmark = pytest.mark.django_db


@dataclass
class ListEndpoint:
    name: str
    view: type
    kwargs: tuple[str, ...]

    @property
    def fields(self) -> list[str]:
        return sorted(
            set(getattr(self.view, "ordering_fields", None) or ())
            | set(getattr(self.view, "ordering_aliases", {}))
        )


def _walk(patterns, groups: tuple[str, ...] = ()) -> Iterator[tuple[URLPattern, tuple[str, ...]]]:
    for pattern in patterns:
        names = groups + tuple(pattern.pattern.regex.groupindex)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, names)
        else:
            yield pattern, names


def ordered_list_endpoints() -> list[ListEndpoint]:
    """Every list action in the URL conf whose view orders through our OrderingFilter."""
    found = {}
    for pattern, groups in _walk(get_resolver().url_patterns):
        view = getattr(pattern.callback, "cls", None)
        actions = getattr(pattern.callback, "actions", None) or {}
        if view is None or actions.get("get") != "list" or not pattern.name:
            continue
        if OrderingFilter in getattr(view, "filter_backends", ()):
            found[pattern.name] = ListEndpoint(
                pattern.name, view, tuple(g for g in groups if g != "format")
            )
    return sorted(found.values(), key=lambda endpoint: endpoint.name)


ENDPOINTS = ordered_list_endpoints()


def test_it_finds_the_ordered_lists():
    names = {endpoint.name for endpoint in ENDPOINTS}
    assert len(names) >= 9, names
    assert {"activity-list", "athlete-list", "timeframe-list", "device-list"} <= names


def _url(endpoint: ListEndpoint, scene) -> str:
    values = {
        "athlete_id": scene.carol_id,
        "manager_id": scene.alice_id,
        "activity_id": scene.activity["id"],
        "webhook_id": scene.webhook_id,
    }
    return reverse(endpoint.name, kwargs={name: values[name] for name in endpoint.kwargs})


def _page_query_ordering(queries: list[dict], table: str) -> str:
    """The ORDER BY clause of the query that fetched the page of `table`."""
    pages = [
        q["sql"]
        for q in queries
        if re.search(rf'\bFROM "{table}"', q["sql"])
        and " ORDER BY " in q["sql"]
        and " LIMIT " in q["sql"]
    ]
    assert pages, [q["sql"] for q in queries]
    return pages[-1].split(" ORDER BY ")[-1].split(" LIMIT ")[0]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda endpoint: endpoint.name)
def test_every_ordering_of_every_list_ends_with_the_primary_key(
    endpoint, scene, api, admin, alice, carol
):
    client = api(admin)
    url = _url(endpoint, scene)
    table = endpoint.view.serializer_class.Meta.model._meta.db_table
    for ordering in [None, *endpoint.fields, *(f"-{field}" for field in endpoint.fields)]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, {"ordering": ordering} if ordering else {})
        assert response.status_code == 200, (url, ordering, response.content)
        assert response.json()["count"] >= 1, (url, "the scene shows a row on every list")
        clause = _page_query_ordering(queries.captured_queries, table)
        assert f'"{table}"."id"' in clause, (url, ordering, clause)


def _page_ids(client, url: str, params: dict, limit: int) -> list[int]:
    ids, page = [], 1
    while page is not None:
        body = client.get(url, {**params, "limit": limit, "page": page}).json()
        ids += [row["id"] for row in body["results"]]
        page = body["next"]
    return ids


def test_forty_activities_with_one_name_page_without_repeats_or_gaps(api, alice):
    schema = JsonSchema.objects.get(name="tennis", type="activity")
    made = [
        Activity.objects.create(
            name="Training",
            json={"sport": "tennis", "type": "training"},
            json_schema=schema,
            owner=alice,
        ).pk
        for _ in range(40)
    ]
    client = api(alice)
    for ordering in ("name", "-name"):
        ids = _page_ids(client, "/api/v1/activities/", {"ordering": ordering}, limit=7)
        assert sorted(ids) == sorted(made), f"{ordering}: a row repeated, another skipped"
        assert ids == sorted(made), ordering


def test_tied_athletes_and_managers_page_by_id(api, admin, make_user):
    athletes = [make_user(f"athlete{i:02d}", Role.ATHLETE, gender="F").pk for i in range(12)]
    managers = [make_user(f"manager{i:02d}", Role.MANAGER).pk for i in range(12)]
    client = api(admin)
    for ordering in ("gender", "-gender", "last_name"):
        assert _page_ids(client, "/api/v1/athletes/", {"ordering": ordering}, 5) == athletes
    for ordering in ("last_name", "-last_name"):
        assert _page_ids(client, "/api/v1/managers/", {"ordering": ordering}, 5) == managers
