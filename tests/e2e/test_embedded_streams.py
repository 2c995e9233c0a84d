"""The live streams in embedded mode (what `make run` starts): one daphne process on SQLite with
the in-process channel layer and task runner, no PostgreSQL, no Redis, no Celery. A gateway
ingests over HTTP; alice receives the packets on the preprocessed stream and the computed
object on the timeframe and activity streams, over real `websockets` clients."""

import json
import time

import pytest
import requests
from websockets.sync.client import ClientConnection, connect

from tests.devices.packets_factory import packet
from tests.e2e.conftest import daphne, embedded_env, manage

pytestmark = pytest.mark.e2e

# Run in `manage.py shell` on the embedded database: the demo's live timeframe on alice's vest
# and a gateway token, as JSON.
SCENE = """
import json, secrets
from datetime import timedelta
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application
from devices.models import Device
from timeframes.models import Timeframe
vest = Device.objects.get(device_name="a1b2c3d4e5f6")
now = timezone.now()
timeframe = Timeframe.objects.get(device=vest, start_time__lte=now, end_time__gt=now)
app = Application.objects.create(
    name="e2e embedded gateway", client_type="confidential",
    authorization_grant_type="client-credentials",
)
gateway = AccessToken.objects.create(
    application=app, token=secrets.token_urlsafe(30), scope="ingest",
    expires=now + timedelta(hours=1),
)
print(json.dumps({"device": vest.pk, "timeframe": timeframe.pk,
                  "activity": timeframe.activity_id, "gateway": gateway.token}))
"""


def stream(base: str, path: str, token: str) -> ClientConnection:
    ws = connect(
        base.replace("http://", "ws://") + path, open_timeout=10, compression=None, legacy=True
    )
    assert json.loads(ws.recv(5)) == {"message": "Authorization needed"}
    ws.send(json.dumps({"token": token, "params": {}}))
    assert json.loads(ws.recv(5)) == {"message": "Authorized"}
    return ws


def until(ws: ClientConnection, found, timeout: float = 20.0) -> dict:
    """The first message `found(message)` accepts (computed streams: snapshot, then updates)."""
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        try:
            message = json.loads(ws.recv(max(deadline - time.monotonic(), 0.01)))
        except TimeoutError:
            raise AssertionError(f"not found in {seen}") from None
        if found(message):
            return message
        seen.append(message)


def test_streams_carry_what_a_gateway_ingests_in_embedded_mode(tmp_path):
    env = embedded_env(tmp_path)
    manage(env, "migrate", "--noinput")
    manage(env, "load_demo_data")
    scene = json.loads(manage(env, "shell", "-c", SCENE).strip().splitlines()[-1])
    # Ten seconds of data that ended a few seconds ago, inside the demo's live timeframe.
    t0 = (int(time.time()) - 15) * 1000
    sent = [packet("a1b2c3d4e5f6", t0 + 1000 * s) for s in range(5)]

    with daphne(env) as base:
        token = requests.post(
            base + "/oauth2/token/",
            data={"grant_type": "password", "username": "alice", "password": "demo-pass-2026"},
            auth=("demo-ams-password", "demo-password-secret"),
            timeout=5,
        ).json()["access_token"]
        preprocessed = stream(base, f"/ws/v1/preprocessed-data/{scene['device']}/", token)
        one = stream(base, f"/ws/v1/computed-data/{scene['activity']}/{scene['timeframe']}/", token)
        every = stream(base, f"/ws/v1/computed-data/{scene['activity']}/", token)

        response = requests.post(
            base + "/api/v1/preprocessed-data/",
            json={"packets": sent},
            headers={"Authorization": f"Bearer {scene['gateway']}"},
            timeout=30,
        )
        assert response.status_code == 201, response.text

        deadline = time.monotonic() + 10
        packets = [
            json.loads(preprocessed.recv(max(deadline - time.monotonic(), 0.01))) for _ in sent
        ]
        # The first computed object with the new samples (the snapshot has none).
        computed = until(one, lambda document: document["samples"])
        in_activity = until(
            every, lambda m: m["timeframe"] == scene["timeframe"] and m["data"]["samples"]
        )
        for ws in (preprocessed, one, every):
            ws.close()

    assert packets == sent
    assert computed["revision"] >= 1
    assert t0 <= computed["last_timestamp"] <= sent[-1]["gnss"]["timestamp"][-1]
    assert in_activity["data"]["revision"] >= 1
