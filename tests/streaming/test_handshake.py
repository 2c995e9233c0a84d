"""SPEC §8 handshake: `Authorization needed`, the first message within 3 s, and each refusal with
its close code and message — never a server error, never a leaked existence."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken

from tests.streaming.conftest import Client, run

pytestmark = pytest.mark.django_db(transaction=True)


def vest_path(device) -> str:
    return f"/ws/v1/preprocessed-data/{device.pk}/"


def test_it_closes_4001_when_no_auth_message_comes_within_3_seconds(vest):
    async def story():
        client = Client(vest_path(vest))
        assert await client.open() == {"message": "Authorization needed"}
        opened = time.monotonic()
        code = await client.closed(timeout=6)
        waited = time.monotonic() - opened
        await client.close()
        return code, waited

    code, waited = run(story)
    assert code == 4001
    assert 2.8 <= waited < 4.0


def test_it_authorizes_with_the_token_form(vest, alice, token_for):
    token = token_for(alice)

    async def story():
        client = Client(vest_path(vest))
        answer = await client.authorize(token, {"buffer_size": 0})
        await client.close()
        return answer

    assert run(story) == {"message": "Authorized"}


def test_it_authorizes_with_the_action_form(vest, alice, token_for):
    token = token_for(alice)

    async def story():
        client = Client(vest_path(vest))
        assert await client.open() == {"message": "Authorization needed"}
        await client.communicator.send_json_to({"action": "authorize", "token": token})
        answer = await client.receive()
        stays_open = await client.quiet(3.5)  # past the 3 s deadline: authorised, not closed
        await client.close()
        return answer, stays_open

    assert run(story) == ({"message": "Authorized"}, True)


@pytest.mark.parametrize(
    ("first", "message"),
    [
        ("hello", "The first message must be a JSON object"),
        ("[1, 2]", "The first message must be a JSON object"),
        ('{"tokn": "x"}', "A token is required"),
        ('{"token": ""}', "A token is required"),
        ('{"token": 42}', "A token is required"),
        ('{"action": "subscribe", "token": "x"}', "Unknown action"),
        ('{"token": "x", "params": [1]}', "params must be a JSON object"),
        ('{"token": "x", "params": {"buffer_size": 61}}', "buffer_size must be an integer"),
        ('{"token": "x", "params": {"buffer_size": "5"}}', "buffer_size must be an integer"),
        ('{"token": "x", "params": {"buffer_size": true}}', "buffer_size must be an integer"),
        ('{"token": "x", "params": {"drop_older": "yes"}}', "drop_older must be true or false"),
        ('{"token": "x", "params": {"flush_timeout": 1}}', "flush_timeout must be"),
        (
            '{"token": "x", "params": {"buffer_size": 10, "flush_timeout": 11}}',
            "flush_timeout must be",
        ),
        ('{"token": "x", "params": {"flush_timeout": 63}}', "flush_timeout must be"),
        ('{"token": "x", "params": {"since": "yesterday"}}', "since must be an integer"),
        ('{"token": "x", "params": {"since": 1.5}}', "since must be an integer"),
    ],
)
def test_it_closes_4000_saying_what_is_wrong(vest, first, message):
    async def story():
        client = Client(vest_path(vest))
        assert await client.open() == {"message": "Authorization needed"}
        await client.send_text(first)
        answer = await client.receive()
        code = await client.closed()
        await client.close()
        return answer, code

    answer, code = run(story)
    assert code == 4000
    assert answer["message"].startswith(message), answer


def test_it_checks_params_before_the_token(vest):
    # A bad request is a bad request whoever sends it: no token lookup is needed to say so.
    async def story():
        client = Client(vest_path(vest))
        result = await client.rejected("not-a-token", {"buffer_size": -1})
        await client.close()
        return result

    answer, code = run(story)
    assert code == 4000


def expire(token: str) -> None:
    AccessToken.objects.filter(token=token).update(expires=timezone.now() - timedelta(seconds=1))


@pytest.mark.parametrize("who", ["unknown", "expired", "ingest", "athlete", "inactive"])
def test_it_closes_4001_for_a_token_that_may_not_stream(vest, alice, carol, token_for, who):
    if who == "unknown":
        token = "no-such-token"
    elif who == "expired":
        token = token_for(alice)
        expire(token)
    elif who == "ingest":
        token = token_for(None, scope="ingest")  # a gateway's client-credentials token
    elif who == "athlete":
        token = token_for(carol)  # the streams are for managers and admins
    else:
        token = token_for(alice)
        type(alice).objects.filter(pk=alice.pk).update(is_active=False)

    async def story():
        client = Client(vest_path(vest))
        result = await client.rejected(token)
        await client.close()
        return result

    assert run(story) == ({"message": "Unauthorized"}, 4001)


def test_it_closes_4001_for_an_all_scope_token_of_a_manager_with_another_scope(
    vest, alice, token_for
):
    token = token_for(alice, scope="read write")

    async def story():
        client = Client(vest_path(vest))
        result = await client.rejected(token)
        await client.close()
        return result

    assert run(story) == ({"message": "Unauthorized"}, 4001)


def test_it_closes_4009_for_a_message_over_64_kib_before_auth(vest):
    async def story():
        client = Client(vest_path(vest))
        assert await client.open() == {"message": "Authorization needed"}
        await client.send_text('{"token": "' + "x" * (64 * 1024) + '"}')
        answer = await client.receive()
        code = await client.closed()
        await client.close()
        return answer, code

    answer, code = run(story)
    assert code == 4009
    assert "64 KiB" in answer["message"]


def test_it_accepts_a_first_message_of_exactly_64_kib(vest, alice, token_for):
    token = token_for(alice)
    first = '{"token": "' + token + '", "pad": "'
    first += "x" * (64 * 1024 - len(first) - 2) + '"}'
    assert len(first.encode()) == 64 * 1024

    async def story():
        client = Client(vest_path(vest))
        assert await client.open() == {"message": "Authorization needed"}
        await client.send_text(first)
        answer = await client.receive()
        await client.close()
        return answer

    assert run(story) == {"message": "Authorized"}


def test_it_ignores_messages_after_auth_but_closes_4009_for_a_huge_one(vest, alice, token_for):
    token = token_for(alice)

    async def story():
        client = Client(vest_path(vest))
        assert await client.authorize(token) == {"message": "Authorized"}
        await client.send_text("not json at all")
        await client.send_text('{"token": "another"}')
        ignored = await client.quiet(0.5)
        await client.communicator.send_to(bytes_data=b"\0" * (64 * 1024 + 1))
        answer = await client.receive()
        code = await client.closed()
        await client.close()
        return ignored, answer, code

    ignored, answer, code = run(story)
    assert ignored
    assert code == 4009
    assert "64 KiB" in answer["message"]


@pytest.mark.parametrize(
    "path",
    [
        "/ws/v1/nothing-here/",
        "/ws/v1/preprocessed-data/a1b2c3d4e5f6/",  # devices are named by id, as over REST
        "/ws/v1/computed-data/x/",
        "/ws/v2/computed-data/1/",
        "/ws/v1/preprocessed-data/1",  # no trailing slash
        "/",
    ],
)
def test_it_refuses_an_unknown_path_with_4004(streaming_db, path):
    async def story():
        client = Client(path)
        connected, _ = await client.communicator.connect()
        answer = await client.receive()
        code = await client.closed()
        await client.close()
        return connected, answer, code

    assert run(story) == (True, {"message": "Not found"}, 4004)
