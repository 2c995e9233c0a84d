"""`make bench`: each measurement printed beside a baseline measured in the same run.

Runs against a throw-away PostgreSQL database (`<DATABASE_URL name>_bench`), created and dropped
here. Timings are wall-clock on this machine; compare each result with its baseline, not with
numbers from another machine.
"""

import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asi_api.settings")
django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "40"))


def timed(func: Callable[[], object], rounds: int = ROUNDS) -> tuple[float, float]:
    func()  # warm-up
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        func()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def report(name: str, result: tuple[float, float], baseline_name: str, baseline: tuple) -> None:
    print(f"{name:58} p50 {result[0]:7.2f} ms  p95 {result[1]:7.2f} ms")
    print(f"  baseline: {baseline_name:48} p50 {baseline[0]:7.2f} ms  p95 {baseline[1]:7.2f} ms")


def seed() -> dict:
    from activities.models import Activity, JsonSchema
    from bench.squad import squad_create
    from timeframes.models import Timeframe

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    manager, athletes, devices = squad_create(
        "main", athletes=50, devices=50, since=t0, until=t0 + timedelta(days=365)
    )
    activity_schema = JsonSchema.objects.filter(type="activity").first()
    timeframe_schema = JsonSchema.objects.filter(type="timeframe").first()
    activities = Activity.objects.bulk_create(
        Activity(name=f"Session {i}", json={}, json_schema=activity_schema, owner=manager)
        for i in range(60)
    )
    Timeframe.objects.bulk_create(
        Timeframe(
            start_time=t0 + timedelta(days=i),
            end_time=t0 + timedelta(days=i, hours=2),
            device=devices[j],
            activity=activities[i],
            athlete=athletes[j],
            owner=manager,
            json_schema=timeframe_schema,
            params={},
        )
        for i in range(60)
        for j in range(50)
    )
    return {"manager": manager}


def bench_timeframes_page(manager) -> None:
    from oauth2_provider.models import AccessToken, Application
    from rest_framework.test import APIClient

    # A real bearer token, so the measurement includes the token lookup of every request.
    application = Application.objects.create(
        name="bench", client_type="confidential", authorization_grant_type="password"
    )
    token = AccessToken.objects.create(
        user=manager,
        application=application,
        token="bench-token",
        scope="all",
        expires=datetime.now(UTC) + timedelta(hours=1),
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.token}")
    url = "/api/v1/timeframes/?limit=150&with_device=true&with_athlete=true&with_activity=true"

    def api_page():
        response = client.get(url)
        assert response.status_code == 200, response.content[:200]

    with CaptureQueriesContext(connection) as queries:
        api_page()
    sql = """
        SELECT t.*, d.*, a.*, u.*, p.*
        FROM timeframes_timeframe t
        JOIN devices_device d ON d.id = t.device_id
        JOIN activities_activity a ON a.id = t.activity_id
        JOIN users_user u ON u.id = t.athlete_id
        JOIN users_athleteprofile p ON p.user_id = u.id
        ORDER BY t.start_time DESC, t.id LIMIT 150
    """

    def raw_page():
        with connection.cursor() as cursor:
            cursor.execute(sql)
            cursor.fetchall()

    report(
        f"GET /api/v1/timeframes/ 150 rows, all with_* ({len(queries)} queries)",
        timed(api_page),
        "raw SQL join of the same 150 rows",
        timed(raw_page),
    )


def main() -> None:
    setup_test_environment()
    connection.settings_dict["TEST"]["NAME"] = f"{connection.settings_dict['NAME']}_bench"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        cast = seed()
        print(f"ASI API benchmarks ({ROUNDS} rounds each, PostgreSQL {connection.pg_version})")
        bench_timeframes_page(cast["manager"])
        from bench import ingest

        ingest.run()
        from bench import analytics

        analytics.run(ROUNDS)
        from bench import live

        live.run()
        from bench import pages

        pages.run()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
