"""`/healthz/` stays healthy while the server streams: its channel-layer round trip must not
depend on the reader the stream consumers share on the server's event loop (it once timed out,
503, as soon as one stream had been opened)."""

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from tests.e2e.conftest import daphne_server, service_env
from tests.e2e.test_streams import stream

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_healthz_answers_ok_while_and_after_streams_are_open(make_device, own, alice, token_for):
    vest = make_device(device_name="a1b2c3d4e5f6", serial_number="ASI-0001")
    own(vest, alice, timezone.now() - timedelta(hours=1))
    token = token_for(alice)
    with daphne_server(service_env()) as (base, _process):
        streams = [stream(base, f"/ws/v1/preprocessed-data/{vest.pk}/", token) for _ in range(3)]
        while_open = [requests.get(base + "/healthz/", timeout=10) for _ in range(2)]
        for ws in streams:
            ws.close()
        after = requests.get(base + "/healthz/", timeout=10)

    assert [r.status_code for r in while_open] == [200, 200], [r.text for r in while_open]
    assert after.status_code == 200, after.text
    assert after.json()["channel_layer"] == "ok"
