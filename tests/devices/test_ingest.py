"""POST /api/v1/preprocessed-data/ (SPEC §6): counts, idempotency, atomicity, every bad input."""

import json

import pytest
from asgiref.sync import async_to_sync
from django.core.cache.backends.locmem import LocMemCache

from analytics import tasks as analytics_tasks
from devices import views as devices_views
from devices.ingestion import announcements_flush
from devices.models import Device
from devices.packets import samples_message_packets
from devices.samples import samples_read
from devices.views import IngestThrottle
from streaming import publish as streaming_publish
from streaming.groups import device_group
from tests.devices.packets_factory import (
    INGEST_URL,
    now_ms,
    packet,
    packets,
    stored_rows,
    stored_samples,
)

pytestmark = pytest.mark.django_db

VEST = "a1b2c3d4e5f6"
BIB = "a1b2c3d4e5f7"


@pytest.fixture
def vest(make_owned_device, alice):
    return make_owned_device(VEST, alice)


@pytest.fixture
def t0() -> int:
    """A minute ago, on a whole second (packets are regrouped by second on the way out)."""
    return now_ms() // 1000 * 1000 - 60_000


def post(client, body) -> tuple[int, dict]:
    response = client.post(INGEST_URL, body, format="json")
    return response.status_code, response.json()


def test_it_stores_a_batch_and_counts_samples(gateway, vest, t0):
    status, body = post(gateway, {"packets": packets(VEST, t0, 5)})

    assert (status, body) == (201, {"packets": 5, "samples": 60, "duplicates": 0})
    assert stored_samples() == 60


def test_it_stores_data_of_devices_nobody_owns(gateway, make_owned_device, t0):
    make_owned_device(BIB)

    assert post(gateway, {"packets": packets(BIB, t0, 2)})[0] == 201
    assert stored_samples() == 24


def test_it_counts_a_resent_request_as_duplicates(gateway, vest, t0):
    body = {"packets": packets(VEST, t0, 5)}
    post(gateway, body)
    before = stored_rows()

    status, counts = post(gateway, body)

    assert (status, counts) == (201, {"packets": 5, "samples": 0, "duplicates": 60})
    assert stored_rows() == before


def test_it_keeps_the_first_write_of_overlapping_requests(gateway, vest, vest_frame, t0):
    post(gateway, {"packets": packets(VEST, t0, 3, hr=140)})

    # Seconds 2-4: second 2 is already stored; its new values are ignored (first write wins).
    status, counts = post(gateway, {"packets": packets(VEST, t0 + 2000, 3, hr=170)})

    assert (status, counts) == (201, {"packets": 3, "samples": 24, "duplicates": 12})
    hr_ts, hr = vest_frame()["ecg"]
    assert hr_ts.tolist() == [t0 + 1000 * s for s in range(5)]
    assert hr["hr"].tolist() == [140, 140, 140, 170, 170]
    assert len(vest_frame()["gnss"][0]) == 50


def test_it_counts_repeats_within_one_request_once(gateway, vest, t0):
    status, counts = post(gateway, {"packets": [packet(VEST, t0), packet(VEST, t0, hr=99)]})

    assert (status, counts) == (201, {"packets": 2, "samples": 12, "duplicates": 12})


@pytest.fixture
def vest_frame(vest):
    def read() -> dict:
        return samples_read(device_id=vest.pk, start=0, stop=now_ms() + 10**9).channels

    return read


def test_it_stores_unknown_channels_of_the_same_shape(gateway, vest, vest_frame, t0):
    body = {
        "device_name": VEST,
        "imu": {"timestamp": [t0, t0 + 50], "ax": [0.1, 0.2], "ay": [1, 2]},
    }

    status, counts = post(gateway, {"packets": [body]})

    assert (status, counts["samples"]) == (201, 2)
    ts, fields = vest_frame()["imu"]
    assert ts.tolist() == [t0, t0 + 50]
    assert fields["ax"].tolist() == [0.1, 0.2]


def test_unknown_channels_read_back_flattened(gateway, api, alice, make_owned_device):
    bib = make_owned_device(BIB, alice)  # owned from now: the samples must come after
    t = now_ms() // 1000 * 1000 + 1000
    imu = {"device_name": BIB, "imu": {"timestamp": [t, t + 50], "ax": [0.5, -1.25], "gz": [3, 4]}}
    assert post(gateway, {"packets": [imu]})[0] == 201

    response = api(alice).get(
        f"/api/v1/devices/{bib.pk}/preprocessed/", {"start": t, "stop": t + 1000}
    )

    assert response.json()["results"] == [
        {"timestamp": t, "imu.ax": 0.5, "imu.gz": 3},
        {"timestamp": t + 50, "imu.ax": -1.25, "imu.gz": 4},
    ]


def test_it_accepts_channels_without_optional_fields(gateway, vest, vest_frame, t0):
    p = {"device_name": VEST, "gnss": {"timestamp": [t0], "latitude": [1.0], "longitude": [2.0]}}

    assert post(gateway, {"packets": [p]})[0] == 201
    assert set(vest_frame()["gnss"][1]) == {"latitude", "longitude"}


def test_a_duplicate_request_is_not_an_error(gateway, vest, t0):
    body = {"packets": packets(VEST, t0, 1)}

    assert [post(gateway, body)[0] for _ in range(3)] == [201, 201, 201]


# --- bad input: a clear 400 naming packet, field and rule; nothing stored --------------------


def bad(t0: int, change) -> dict:
    """Ten good packets with packet 7 changed by `change`."""
    batch = packets(VEST, t0, 10)
    change(batch[7])
    return {"packets": batch}


def set_in(channel: str, name: str, value):
    def change(p: dict) -> None:
        p[channel][name] = value

    return change


def set_item(channel: str, name: str, index: int, value):
    def change(p: dict) -> None:
        p[channel][name][index] = value

    return change


BAD_PACKETS = {
    "latitude above 90": (set_item("gnss", "latitude", 3, 90.5), "packets[7].gnss.latitude"),
    "longitude below -180": (set_item("gnss", "longitude", 0, -181), "packets[7].gnss.longitude"),
    "speed of 50": (set_item("gnss", "speed", 9, 50), "packets[7].gnss.speed"),
    "negative speed": (set_item("gnss", "speed", 1, -0.1), "packets[7].gnss.speed"),
    "heart rate 256": (set_in("ecg", "hr", 256), "packets[7].ecg.hr"),
    "battery over 100": (set_in("device", "Bat_lvl", 101), "packets[7].device.Bat_lvl"),
    "unequal arrays": (set_in("gnss", "speed", [1.0]), "packets[7].gnss.speed"),
    "far future": (set_in("ecg", "timestamp", 4_102_444_800_000), "packets[7].ecg.timestamp"),
    "before 2000": (set_in("ecg", "timestamp", 946_684_799_999), "packets[7].ecg.timestamp"),
    "float timestamp": (set_in("ecg", "timestamp", 1.7e12), "packets[7].ecg.timestamp"),
    "string value": (set_in("ecg", "hr", "150"), "packets[7].ecg.hr"),
    "boolean value": (set_item("gnss", "altitude", 2, True), "packets[7].gnss.altitude"),
    "null value": (set_item("gnss", "altitude", 2, None), "packets[7].gnss.altitude"),
    "missing latitude": (lambda p: p["gnss"].pop("latitude"), "packets[7].gnss.latitude"),
    "channel not an object": (lambda p: p.update(imu=[1, 2]), "packets[7].imu"),
    "channel without timestamp": (lambda p: p.update(imu={"ax": 1}), "packets[7].imu"),
    "channel without fields": (lambda p: p.update(imu={"timestamp": 1}), "packets[7].imu"),
    "nested field": (set_in("ecg", "hr", {"v": 1}), "packets[7].ecg.hr"),
    "unknown device": (lambda p: p.update(device_name="ffffffffffff"), "packets[7].device_name"),
    "malformed device name": (lambda p: p.update(device_name="XYZ"), "packets[7].device_name"),
}


@pytest.mark.parametrize("case", BAD_PACKETS, ids=list(BAD_PACKETS))
def test_it_refuses_bad_input_and_stores_nothing(gateway, vest, t0, case):
    post(gateway, {"packets": packets(VEST, t0 - 100_000, 2)})
    before = stored_rows()
    change, where = BAD_PACKETS[case]

    status, body = post(gateway, bad(t0, change))

    assert status == 400, body
    assert where in body, body
    assert body[where][0], "the rule is stated"
    assert stored_rows() == before


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_it_refuses_nan_and_infinity(gateway, vest, t0, literal):
    text = json.dumps({"packets": packets(VEST, t0, 2)}).replace("12.0", literal, 1)

    response = gateway.post(INGEST_URL, text, content_type="application/json")

    assert response.status_code == 400
    assert stored_samples() == 0


@pytest.mark.parametrize("where", ["device_name", "channel", "field"])
def test_it_refuses_lone_surrogates(gateway, vest, t0, where):
    batch = packets(VEST, t0, 2)
    if where == "device_name":
        batch[1]["device_name"] = "\ud800"
    elif where == "channel":
        batch[1]["\udc00"] = {"timestamp": t0, "x": 1}
    else:
        batch[1]["ecg"]["\ud800"] = 1
    text = json.dumps({"packets": batch})  # ASCII, with the surrogate as a \\u escape

    response = gateway.post(INGEST_URL, text, content_type="application/json")

    assert response.status_code == 400
    assert stored_samples() == 0


def test_it_refuses_malformed_json(gateway, vest):
    response = gateway.post(INGEST_URL, '{"packets": [', content_type="application/json")

    assert response.status_code == 400
    assert stored_samples() == 0


def test_it_refuses_deeply_nested_json(gateway, vest):
    text = '{"packets": ' + "[" * 100_000 + "]" * 100_000 + "}"

    response = gateway.post(INGEST_URL, text, content_type="application/json")

    assert response.status_code == 400
    assert stored_samples() == 0


def test_it_refuses_more_than_1000_packets(gateway, vest, t0):
    status, body = post(gateway, {"packets": [packet(VEST, t0, fixes=1)] * 1001})

    assert status == 400
    assert "1000" in body["packets"][0]
    assert stored_samples() == 0


def test_it_refuses_a_body_over_5_mib_before_reading_it(gateway, vest):
    response = gateway.post(
        INGEST_URL, b"{}", content_type="application/json", CONTENT_LENGTH=str(5 * 2**20 + 1)
    )

    assert response.status_code == 413


@pytest.mark.parametrize("body", [{"packet": []}, [1, 2], {"packets": {}}, {"packets": [7]}])
def test_it_refuses_a_body_that_is_not_a_list_of_packets(gateway, vest, body):
    status, answer = post(gateway, body)

    assert status == 400
    assert next(iter(answer)).startswith("packets"), answer


def test_one_bad_packet_stores_nothing_of_the_batch(gateway, vest, make_owned_device, t0):
    make_owned_device(BIB)
    batch = packets(VEST, t0, 5) + packets(BIB, t0, 5)
    batch[8]["gnss"]["latitude"][0] = -91

    status, body = post(gateway, {"packets": batch})

    assert (status, list(body)) == (400, ["packets[8].gnss.latitude"])
    assert stored_samples() == 0


# --- who may ingest ------------------------------------------------------------------------------


def test_a_renamed_device_is_known_by_its_new_name_only(gateway, vest, t0):
    post(gateway, {"packets": packets(VEST, t0, 1)})  # the name → id lookup is now cached
    Device.objects.filter(pk=vest.pk).update(device_name="0000000000aa")

    status, body = post(gateway, {"packets": packets(VEST, t0 + 1000, 1)})
    assert (status, body) == (400, {"packets[0].device_name": ["Unknown device."]})
    status, body = post(gateway, {"packets": packets("0000000000aa", t0 + 1000, 1)})
    assert (status, body["samples"]) == (201, 12)
    assert stored_samples() == 24


def test_a_deleted_device_is_unknown_at_once(gateway, vest, t0):
    post(gateway, {"packets": packets(VEST, t0, 1)})
    rows = stored_rows()
    Device.objects.filter(pk=vest.pk).delete()

    status, body = post(gateway, {"packets": packets(VEST, t0 + 1000, 1)})

    assert (status, body) == (400, {"packets[0].device_name": ["Unknown device."]})
    assert stored_rows() == rows


@pytest.mark.parametrize("cache", ["redis", "in-process (embedded mode)"])
def test_it_throttles_per_gateway_with_retry_after(gateway, vest, t0, monkeypatch, cache):
    monkeypatch.setattr(IngestThrottle, "THROTTLE_RATES", {"ingest": "3/min"})
    if cache != "redis":
        local = LocMemCache(f"ingest-throttle-{t0}", {})
        monkeypatch.setattr(devices_views, "_ingest_throttle_cache", lambda: local)

    statuses = [
        gateway.post(INGEST_URL, {"packets": packets(VEST, t0 + 1000 * i, 1)}, format="json")
        for i in range(4)
    ]

    assert [r.status_code for r in statuses] == [201, 201, 201, 429]
    assert 1 <= int(statuses[-1]["Retry-After"]) <= 120
    assert stored_samples() == 36


def test_it_refuses_a_token_with_scope_all(api, alice, vest, t0):
    response = api(alice, scope="all").post(INGEST_URL, {"packets": packets(VEST, t0, 1)})

    assert response.status_code == 403
    assert stored_samples() == 0


def test_it_refuses_a_gateway_token_with_scope_all(api, token_for, vest, t0):
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(None, scope='all')}")

    assert client.post(INGEST_URL, {"packets": packets(VEST, t0, 1)}).status_code == 403


def test_it_refuses_anonymous_gateways(api, vest, t0):
    response = api().post(INGEST_URL, {"packets": packets(VEST, t0, 1)}, format="json")

    assert response.status_code == 401


def test_an_ingest_token_reads_nothing(gateway, vest):
    assert gateway.get(f"/api/v1/devices/{vest.pk}/latest-preprocessed-data/").status_code == 403
    assert gateway.get("/api/v1/devices/").status_code == 403


# --- after commit: the stream and the analytics ----------------------------------------------------


@pytest.fixture
def listener(settings):
    """A channel-layer channel subscribed to a device group; `.received()` drains it.

    A plain (non-"specific") channel name and a fresh layer per call: channels-redis binds its
    receive buffers to the event loop, and each async_to_sync call may run in another one.
    """
    import asyncio
    import uuid

    from channels.layers import channel_layers

    channel = f"ingest-test.{uuid.uuid4().hex}"

    def layer():
        return channel_layers.make_backend("default")

    class Listener:
        def join(self, device) -> None:
            async_to_sync(layer().group_add)(device_group(device.pk), channel)

        def received(self) -> list[dict]:
            async def drain() -> list[dict]:
                fresh, out = layer(), []
                while True:
                    try:
                        out.append(await asyncio.wait_for(fresh.receive(channel), 0.3))
                    except TimeoutError:
                        return out

            return async_to_sync(drain)()

    return Listener()


@pytest.fixture
def analytics_sent(monkeypatch) -> list:
    sent: list = []
    monkeypatch.setattr(analytics_tasks.samples_arrived, "delay", lambda *a: sent.append(a))
    monkeypatch.setattr(analytics_tasks.samples_arrived, "run", lambda *a: sent.append(a))
    return sent


def test_it_notifies_the_stream_and_analytics_only_after_commit(
    gateway,
    vest,
    make_owned_device,
    t0,
    listener,
    analytics_sent,
    django_capture_on_commit_callbacks,
):
    bib = make_owned_device(BIB)
    listener.join(vest)
    post(gateway, {"packets": packets(VEST, t0, 2)})  # already stored: not sent again
    announcements_flush()
    listener.received()
    analytics_sent.clear()

    # The test's transaction never commits: the callbacks run when this block exits, as they
    # would at commit; inside it, the request is answered and nothing has been sent.
    with django_capture_on_commit_callbacks(execute=True):
        batch = packets(VEST, t0, 4) + packets(BIB, t0, 3)
        status, counts = post(gateway, {"packets": batch})
        assert (status, counts["samples"]) == (201, 60)
        assert listener.received() == []
        assert analytics_sent == []
    announcements_flush()

    (message,) = listener.received()
    assert message["device_name"] == VEST
    assert message["channels"]["ecg"] == {"timestamp": [t0 + 2000, t0 + 3000], "hr": [150, 150]}
    assert samples_message_packets(message) == packets(VEST, t0 + 2000, 2)
    ((spans,),) = analytics_sent
    assert sorted(spans) == sorted([[vest.pk, t0 + 2000, t0 + 3900], [bib.pk, t0, t0 + 2900]])


def test_it_publishes_only_to_devices_someone_listens_to(
    gateway, vest, make_owned_device, t0, listener, monkeypatch, django_capture_on_commit_callbacks
):
    make_owned_device(BIB)
    listener.join(vest)
    sent: list[str] = []
    real_layer = streaming_publish.get_channel_layer

    def spied_layer():
        layer = real_layer()
        group_send = layer.group_send

        async def spy(group, message):
            sent.append(group)
            return await group_send(group, message)

        layer.group_send = spy
        group_send_many = getattr(layer, "group_send_many", None)
        if group_send_many is not None:  # streaming.layers: every group in one call

            async def spy_many(messages):
                sent.extend(group for group, _ in messages)
                return await group_send_many(messages)

            layer.group_send_many = spy_many
        return layer

    monkeypatch.setattr(streaming_publish, "get_channel_layer", spied_layer)

    with django_capture_on_commit_callbacks(execute=True):
        post(gateway, {"packets": packets(VEST, t0, 2) + packets(BIB, t0, 2)})
    announcements_flush()

    assert sent == [device_group(vest.pk)]
    assert [m["device_name"] for m in listener.received()] == [VEST]


def test_it_sends_nothing_for_a_duplicate_request(
    gateway, vest, t0, listener, analytics_sent, django_capture_on_commit_callbacks
):
    listener.join(vest)
    body = {"packets": packets(VEST, t0, 2)}
    post(gateway, body)
    announcements_flush()
    listener.received()
    analytics_sent.clear()

    with django_capture_on_commit_callbacks(execute=True):
        post(gateway, body)
    announcements_flush()

    assert listener.received() == []
    assert analytics_sent == []


def test_a_channel_layer_failure_loses_no_ingest(
    gateway, vest, t0, monkeypatch, analytics_sent, django_capture_on_commit_callbacks
):
    class DownLayer:
        async def group_send(self, group, message):
            raise ConnectionError("redis is down")

    monkeypatch.setattr(streaming_publish, "get_channel_layer", lambda: DownLayer())
    failures = streaming_publish.publish_failures.value

    with django_capture_on_commit_callbacks(execute=True):
        status, counts = post(gateway, {"packets": packets(VEST, t0, 2)})
    announcements_flush()

    assert (status, counts["samples"]) == (201, 24)
    assert stored_samples() == 24
    assert streaming_publish.publish_failures.value == failures + 1
    assert len(analytics_sent) == 1
