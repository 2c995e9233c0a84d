"""The Django admin for users, profiles and grants, used the way an admin would."""

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from users.models import AthletePermission, AthleteProfile, ManagerProfile, PermissionKind, User

from .moments import at

pytestmark = pytest.mark.django_db


def split(moment) -> dict:
    return {"0": moment.strftime("%Y-%m-%d"), "1": moment.strftime("%H:%M:%S")}


def window_form(start, end) -> dict:
    return {
        "start_time_0": split(start)["0"],
        "start_time_1": split(start)["1"],
        "expiration_time_0": split(end)["0"],
        "expiration_time_1": split(end)["1"],
    }


@pytest.mark.parametrize(
    "url",
    [
        "/admin/users/user/",
        "/admin/users/athletepermission/",
        "/admin/users/athletepermission/?active=yes&derived=yes&permission__exact=READ",
        "/admin/users/athleteprofile/",
        "/admin/users/managerprofile/",
        "/admin/users/athletepermission/add/",
    ],
)
def test_it_shows_admin_pages(admin_browser, cast, url):
    assert admin_browser.get(url).status_code == 200


def test_it_shows_a_users_profile_and_grants(admin_browser, cast, carol, alice):
    page = admin_browser.get(f"/admin/users/user/{carol.pk}/change/").content.decode()
    assert "Permissions given" in page and "Athlete profile" in page
    page = admin_browser.get(f"/admin/users/user/{alice.pk}/change/").content.decode()
    assert "Permissions received" in page


def test_it_shows_who_granted_what_from_what(
    admin_browser, cast, carol, sybil, trent, grant, window
):
    derived = grant(
        carol, trent, PermissionKind.READ, *window, granted_by=sybil, derived_from=cast["share"]
    )
    page = admin_browser.get(
        f"/admin/users/athletepermission/{derived.pk}/change/"
    ).content.decode()
    assert "sybil" in page and "derived from" in page.lower()


def test_it_adds_a_grant_as_the_admin(admin_browser, admin, carol, alice):
    response = admin_browser.post(
        "/admin/users/athletepermission/add/",
        {
            "athlete": carol.pk,
            "manager": alice.pk,
            "permission": "READ",
            **window_form(at(20), at(21)),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    grant = AthletePermission.objects.get()
    assert grant.granted_by == admin and (grant.start_time, grant.expiration_time) == (
        at(20),
        at(21),
    )


def test_it_refuses_an_inverted_window_in_the_admin(admin_browser, carol, alice):
    response = admin_browser.post(
        "/admin/users/athletepermission/add/",
        {
            "athlete": carol.pk,
            "manager": alice.pk,
            "permission": "READ",
            **window_form(at(21), at(20)),
        },
    )
    assert response.status_code == 200
    assert "expiration_time must be after start_time" in response.content.decode()
    assert not AthletePermission.objects.exists()


def test_it_refuses_a_manager_as_athlete_in_the_admin(admin_browser, alice, trent):
    response = admin_browser.post(
        "/admin/users/athletepermission/add/",
        {
            "athlete": alice.pk,
            "manager": trent.pk,
            "permission": "READ",
            **window_form(at(20), at(21)),
        },
    )
    assert response.status_code == 200
    assert not AthletePermission.objects.exists()


def test_it_clips_derived_grants_when_the_admin_shrinks_a_share(
    admin_browser, carol, sybil, trent, grant
):
    share = grant(carol, sybil, PermissionKind.SHARE, at(18), at(23))
    derived = grant(
        carol, trent, PermissionKind.READ, at(19), at(22), granted_by=sybil, derived_from=share
    )
    response = admin_browser.post(
        f"/admin/users/athletepermission/{share.pk}/change/", window_form(at(18), at(20))
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    derived.refresh_from_db()
    assert derived.expiration_time == at(20)


def test_it_gives_a_user_added_in_the_admin_his_profile(admin_browser):
    response = admin_browser.post(
        "/admin/users/user/add/",
        {
            "username": "nina",
            "role": "MANAGER",
            "email": "nina@example.org",
            "password1": "Lumen-Quartz-77",
            "password2": "Lumen-Quartz-77",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert ManagerProfile.objects.filter(user__username="nina").exists()


def test_it_uploads_a_checked_profile_picture(admin_browser, carol):
    buffer = io.BytesIO()
    Image.new("RGB", (3, 3)).save(buffer, format="PNG")
    profile = carol.athlete_profile
    data = {
        "user": carol.pk,
        "first_name": "Carol",
        "last_name": "Athlete",
        "gender": "F",
        "nationality": "",
        "max_heart_rate": "192",
    }
    bad = admin_browser.post(
        f"/admin/users/athleteprofile/{profile.pk}/change/",
        {**data, "picture_upload": SimpleUploadedFile("x.gif", b"GIF89a nope")},
    )
    assert bad.status_code == 200 and "Not a PNG or JPEG image" in bad.content.decode()
    good = admin_browser.post(
        f"/admin/users/athleteprofile/{profile.pk}/change/",
        {**data, "picture_upload": SimpleUploadedFile("me.png", buffer.getvalue())},
    )
    assert good.status_code == 302
    assert bytes(AthleteProfile.objects.get(pk=profile.pk).profile_picture) == buffer.getvalue()
    assert User.objects.get(pk=carol.pk).athlete_profile.max_heart_rate == 192


def test_it_deletes_a_manager_through_the_services(admin_browser, alice, carol, grant, band, own):
    from devices.models import Device

    own(band, alice, at(0))
    grant(carol, alice, PermissionKind.READ, at(20), at(21))
    response = admin_browser.post(f"/admin/users/user/{alice.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not User.objects.filter(pk=alice.pk).exists()
    assert not AthletePermission.objects.exists() and Device.objects.filter(pk=band.pk).exists()


def test_it_deletes_a_manager_in_the_admin_like_his_own_account_deletion(
    admin_browser, alice, band, match, own, emitted
):
    # The same service as DELETE /account/: his current device is released (its ownership
    # ended, not silently cascaded) and his activities are deleted with their events.
    from django.utils import timezone

    own(band, alice, timezone.now() - timedelta(days=1))
    response = admin_browser.post(f"/admin/users/user/{alice.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert [(e.name, e.user_id, e.activity_id) for e in emitted] == [
        ("ownership-ended", alice.pk, None),
        ("activity-deleted", None, match.pk),
        ("user-deleting", alice.pk, None),
    ]
    assert not User.objects.filter(pk=alice.pk).exists()


def test_it_bulk_deletes_athletes_through_the_services(admin_browser, carol, bob):
    response = admin_browser.post(
        "/admin/users/user/",
        {"action": "delete_selected", "_selected_action": [carol.pk, bob.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not User.objects.filter(pk__in=[carol.pk, bob.pk]).exists()


def test_it_refuses_a_username_differing_only_in_case(admin_browser, carol):
    response = admin_browser.post(
        "/admin/users/user/add/",
        {
            "username": "Carol",
            "role": "ATHLETE",
            "email": "c2@example.org",
            "password1": "Lumen-Quartz-77",
            "password2": "Lumen-Quartz-77",
            "usable_password": "true",
        },
    )
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert User.objects.filter(username__iexact="carol").count() == 1
