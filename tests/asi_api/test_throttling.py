import pytest
from rest_framework.settings import api_settings

from asi_api.throttles import AnonRateThrottle, UserRateThrottle

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_per_minute(monkeypatch):
    # DRF copies the rates onto the class when it is defined; patch them there.
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "user": "2/min"}
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", rates)


def test_it_throttles_a_user_with_retry_after(api, alice, two_per_minute):
    client = api(alice)
    assert client.get("/api/v1/account/").status_code == 200
    assert client.get("/api/v1/account/").status_code == 200
    response = client.get("/api/v1/account/")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert "throttled" in response.json()["detail"].lower()


def test_it_counts_each_user_separately(api, alice, trent, two_per_minute):
    for _ in range(2):
        api(alice).get("/api/v1/account/")
    assert api(alice).get("/api/v1/account/").status_code == 429
    assert api(trent).get("/api/v1/account/").status_code == 200


def test_it_throttles_anonymous_callers_per_ip(client, monkeypatch):
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "anon": "2/min"}
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", rates)
    # Registration is the one thing anonymous callers may do; malformed bodies still count.
    for _ in range(2):
        assert (
            client.post("/api/v1/managers/", {}, content_type="application/json").status_code == 400
        )
    response = client.post("/api/v1/managers/", {}, content_type="application/json")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    other_ip = client.post(
        "/api/v1/managers/", {}, content_type="application/json", REMOTE_ADDR="10.0.0.9"
    )
    assert other_ip.status_code == 400
