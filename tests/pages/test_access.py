"""Who gets the report pages and the live page (Django's test client, session login).

The reports follow the computed-data rule of SPEC §7 (`timeframes_computed_readable_by`): admins,
the athlete himself, managers whose READ covers the span; anyone else gets the 404 page (alice,
who owns the timeframe with WRITE only, too). The live page is for managers and admins who see
the activity (SPEC §5); athletes get 403.
"""

import pytest
from django.test import Client

from tests.conftest import MATCH_END, MATCH_START
from users.models import PermissionKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def evening(alice, carol, band, own, grant, match, make_timeframe):
    """carol wears band in alice's match; alice holds WRITE on carol, no READ."""
    own(band, alice, MATCH_START)
    grant(carol, alice, PermissionKind.WRITE, MATCH_START, MATCH_END)
    return make_timeframe(band, match)


def browser(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def report(timeframe) -> str:
    return f"/reports/timeframes/{timeframe.pk}/"


def activity_report(activity) -> str:
    return f"/reports/activities/{activity.pk}/"


def live(activity) -> str:
    return f"/live/activities/{activity.pk}/"


@pytest.mark.parametrize("path", ["report", "activity_report", "live"])
def test_it_sends_anonymous_users_to_the_login_page(path, evening):
    url = {"report": report(evening), "activity_report": activity_report(evening.activity)}.get(
        path, live(evening.activity)
    )

    response = browser().get(url)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


def test_it_shows_the_report_to_a_manager_with_read(evening, alice, carol, grant):
    grant(carol, alice, PermissionKind.READ, MATCH_START, MATCH_END)

    response = browser(alice).get(report(evening))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b'data-metric="total_distance"' in response.content
    assert b"/static/vendor/uplot/uPlot.iife.min.js" in response.content


def test_it_shows_the_report_to_the_athlete_and_to_admins(evening, carol, admin):
    assert browser(carol).get(report(evening)).status_code == 200
    assert browser(admin).get(report(evening)).status_code == 200


def test_owning_the_timeframe_without_read_is_the_404_page(evening, alice):
    response = browser(alice).get(report(evening))

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_it_hides_the_report_from_another_manager(evening, trent, mallory):
    assert browser(trent).get(report(evening)).status_code == 404
    assert browser(mallory).get(report(evening)).status_code == 404


def test_read_covering_part_of_the_span_is_not_enough(evening, alice, carol, grant):
    grant(carol, alice, PermissionKind.READ, MATCH_START, MATCH_END.replace(hour=21))

    assert browser(alice).get(report(evening)).status_code == 404


def test_an_unknown_timeframe_is_the_404_page(admin):
    assert browser(admin).get("/reports/timeframes/999999/").status_code == 404


def test_the_activity_report_lists_only_readable_timeframes(
    evening, alice, carol, bob, grant, make_device, own, make_timeframe
):
    grant(carol, alice, PermissionKind.READ, MATCH_START, MATCH_END)
    vest = make_device()
    own(vest, alice, MATCH_START)
    bobs = make_timeframe(vest, evening.activity, athlete=bob)  # no READ on bob

    response = browser(alice).get(activity_report(evening.activity))

    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-timeframe="{evening.pk}"' in html
    assert f'data-timeframe="{bobs.pk}"' not in html
    assert "Bob" not in html


def test_the_activity_report_of_an_invisible_activity_is_the_404_page(evening, mallory):
    assert browser(mallory).get(activity_report(evening.activity)).status_code == 404


def test_the_athlete_sees_his_own_row_of_the_activity_report(evening, carol):
    response = browser(carol).get(activity_report(evening.activity))

    assert response.status_code == 200
    assert f'data-timeframe="{evening.pk}"' in response.content.decode()


def test_the_live_page_is_for_managers_who_see_the_activity(evening, alice, admin):
    assert browser(alice).get(live(evening.activity)).status_code == 200
    assert browser(admin).get(live(evening.activity)).status_code == 200


def test_the_live_page_of_another_managers_activity_is_the_404_page(evening, mallory):
    response = browser(mallory).get(live(evening.activity))

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert b"not shared with you" in response.content


def test_an_api_path_keeps_its_json_404(mallory):
    # No view matches: Django's handler404 answers, in JSON under the API prefixes.
    for path in ("/api/v1/no-such-thing/", "/oauth2/no-such-thing/", "/healthz/nothing/"):
        response = browser(mallory).get(path)

        assert response.status_code == 404, path
        assert response.json() == {"detail": "Not found."}, path


def test_the_live_page_refuses_athletes(evening, carol):
    response = browser(carol).get(live(evening.activity))

    assert response.status_code == 403
    assert b"managers and admins" in response.content


def test_the_sessions_index_lists_visible_activities_with_their_pages(
    evening, alice, carol, grant, mallory, make_activity
):
    grant(carol, alice, PermissionKind.READ, MATCH_START, MATCH_END)
    make_activity(name="Mallory's own", owner=mallory)

    html = browser(alice).get("/reports/").content.decode()

    assert f'href="/reports/activities/{evening.activity_id}/"' in html
    assert f'href="/live/activities/{evening.activity_id}/"' in html
    assert "Mallory's own" not in html


def test_the_sessions_index_counts_only_readable_timeframes(
    evening, mallory, carol, bob, grant, make_device, own, make_timeframe
):
    # mallory reads carol's timeframe, not bob's in the same match
    grant(carol, mallory, PermissionKind.READ, MATCH_START, MATCH_END)
    other = make_device()
    own(other, evening.owner, MATCH_START)
    make_timeframe(other, evening.activity, athlete=bob)

    response = browser(mallory).get("/reports/")

    assert response.status_code == 200
    row = response.content.decode().split(f'data-activity="{evening.activity_id}"')[1]
    assert '<td class="num">1</td>' in row.split("</tr>")[0]


def test_athletes_see_reports_but_no_live_links_in_the_index(evening, carol):
    html = browser(carol).get("/reports/").content.decode()

    assert f'href="/reports/activities/{evening.activity_id}/"' in html
    assert "/live/activities/" not in html


def test_the_browsable_api_links_an_activity_and_a_timeframe_to_their_pages(evening, admin):
    client = browser(admin)

    activity = client.get(f"/api/v1/activities/{evening.activity_id}/", HTTP_ACCEPT="text/html")
    timeframe = client.get(f"/api/v1/timeframes/{evening.pk}/", HTTP_ACCEPT="text/html")

    assert f'href="/live/activities/{evening.activity_id}/"' in activity.content.decode()
    assert f'href="/reports/activities/{evening.activity_id}/"' in activity.content.decode()
    assert f'href="/reports/timeframes/{evening.pk}/"' in timeframe.content.decode()
