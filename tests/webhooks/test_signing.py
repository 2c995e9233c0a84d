"""Standard Webhooks signatures (webhooks/signing.py), checked against the reference library
(`standardwebhooks`) and the specification's published example."""

import base64
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook as ReferenceVerifier
from standardwebhooks.webhooks import WebhookVerificationError

from webhooks import signing

# The example of the Standard Webhooks specification (and of its reference libraries' tests).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = '{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

BODY = '{"event":"activity-updated","webhook_id":99,"data":{"activity_id":123}}'


def test_it_reproduces_the_published_example():
    signature = signing.sign(
        secret=SPEC_SECRET, msg_id=SPEC_MSG_ID, timestamp=SPEC_TIMESTAMP, body=SPEC_BODY
    )
    assert signature == SPEC_SIGNATURE


def test_it_signs_as_the_reference_library_does():
    secret = signing.secret_generate()
    reference = ReferenceVerifier(secret).sign(
        SPEC_MSG_ID, datetime.fromtimestamp(SPEC_TIMESTAMP, tz=UTC), BODY
    )
    assert signing.sign(secret=secret, msg_id=SPEC_MSG_ID, timestamp=SPEC_TIMESTAMP, body=BODY) == (
        reference
    )


def test_it_generates_whsec_secrets_of_32_random_bytes():
    secret = signing.secret_generate()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert signing.secret_generate() != secret


def test_the_reference_verifier_accepts_our_headers():
    secret = signing.secret_generate()
    headers = signing.headers_sign(secrets=[secret], msg_id="msg_1", body=BODY)
    assert ReferenceVerifier(secret).verify(BODY, headers) == {
        "event": "activity-updated",
        "webhook_id": 99,
        "data": {"activity_id": 123},
    }


def test_the_reference_verifier_accepts_either_secret_during_a_rotation():
    old, new = signing.secret_generate(), signing.secret_generate()
    headers = signing.headers_sign(secrets=[new, old], msg_id="msg_1", body=BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        ReferenceVerifier(secret).verify(BODY, headers)
        signing.verify(secret=secret, headers=headers, body=BODY)
    with pytest.raises(WebhookVerificationError):
        ReferenceVerifier(signing.secret_generate()).verify(BODY, headers)


def test_our_verifier_accepts_what_the_reference_signs():
    secret = signing.secret_generate()
    now = datetime.now(tz=UTC)
    signature = ReferenceVerifier(secret).sign("msg_2", now, BODY)
    headers = {
        "Webhook-Id": "msg_2",
        "Webhook-Timestamp": str(int(now.timestamp())),
        "Webhook-Signature": f"v2,whatever {signature}",
    }
    signing.verify(secret=secret, headers=headers, body=BODY.encode())


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda h, b: (h | {"webhook-id": "msg_other"}, b), "No matching signature"),
        (lambda h, b: (h, b.replace("123", "124")), "No matching signature"),
        (lambda h, b: (h | {"webhook-timestamp": str(int(time.time()) - 301)}, b), "too far"),
        (lambda h, b: (h | {"webhook-timestamp": str(int(time.time()) + 301)}, b), "too far"),
        (lambda h, b: (h | {"webhook-timestamp": "soon"}, b), "not an integer"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "webhook-id"}, b), "Missing"),
        (lambda h, b: (h | {"webhook-signature": "v1,AAAA"}, b), "No matching signature"),
    ],
)
def test_it_refuses_tampered_stale_or_incomplete_messages(change, reason):
    secret = signing.secret_generate()
    headers = signing.headers_sign(secrets=[secret], msg_id="msg_3", body=BODY)
    headers, body = change(headers, BODY)
    with pytest.raises(signing.SignatureInvalid, match=reason):
        signing.verify(secret=secret, headers=headers, body=body)


def test_it_accepts_timestamps_within_five_minutes():
    secret = signing.secret_generate()
    stamp = int(time.time()) - 299
    headers = signing.headers_sign(secrets=[secret], msg_id="msg_4", body=BODY, timestamp=stamp)
    signing.verify(secret=secret, headers=headers, body=BODY)


def test_it_refuses_a_secret_that_is_not_base64():
    with pytest.raises(ValueError):
        signing.secret_key("whsec_")
