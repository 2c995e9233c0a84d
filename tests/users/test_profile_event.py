"""`athlete-profile-updated`: a change of the profile values the metrics use (max and resting
heart rate, gender, birth date) is announced, so analytics recomputes (users never imports it)."""

from datetime import date

import pytest

from users.events import ATHLETE_PROFILE_UPDATED
from users.services import user_update

pytestmark = pytest.mark.django_db


def announced(events) -> list[int]:
    return [e.user_id for e in events if e.name == ATHLETE_PROFILE_UPDATED]


@pytest.mark.parametrize(
    "change",
    [
        {"max_heart_rate": 185},
        {"resting_heart_rate": 48},
        {"gender": "M"},
        {"birth_date": date(2001, 4, 2)},
    ],
)
def test_it_announces_a_change_of_a_value_the_metrics_use(carol, emitted, change):
    user_update(actor=carol, user=carol, profile=change)

    assert announced(emitted) == [carol.pk]


def test_it_announces_nothing_for_other_fields_or_unchanged_values(carol, emitted):
    user_update(actor=carol, user=carol, profile={"first_name": "Caroline", "height": 1.7})
    user_update(actor=carol, user=carol, profile={"max_heart_rate": 192, "gender": "F"})

    assert announced(emitted) == []


def test_it_announces_after_commit_only_when_the_change_stands(
    carol, committed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        user_update(actor=carol, user=carol, profile={"max_heart_rate": 185})

    assert announced(committed) == [carol.pk]


def test_a_manager_profile_announces_nothing(alice, emitted):
    user_update(actor=alice, user=alice, profile={"first_name": "Al"})

    assert announced(emitted) == []


def test_an_admin_edit_of_a_metric_value_announces_it_too(admin_browser, carol, emitted):
    profile = carol.athlete_profile
    data = {"user": carol.pk, "first_name": "Carol", "last_name": "A", "gender": "F"}
    url = f"/admin/users/athleteprofile/{profile.pk}/change/"

    assert admin_browser.post(url, {**data, "max_heart_rate": "192"}).status_code == 302
    assert announced(emitted) == []  # 192 was already stored: nothing the metrics use changed
    assert admin_browser.post(url, {**data, "max_heart_rate": "181"}).status_code == 302
    assert announced(emitted) == [carol.pk]
