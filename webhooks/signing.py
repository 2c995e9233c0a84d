"""Standard Webhooks signatures (https://www.standardwebhooks.com/), pure: no Django.

A signing secret is `whsec_` + base64 of random bytes; the key is the decoded bytes. A message is
signed as `v1,<base64 HMAC-SHA256 of "{msg_id}.{timestamp}.{body}">`, and the
`webhook-signature` header lists one such signature per secret in force, space-separated (two
during a rotation overlap). A receiver accepts a message when any listed signature matches one
of its secrets and the timestamp is within five minutes of its clock (replay protection).
"""

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Mapping

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
# Receivers refuse messages whose timestamp is further than this from their clock.
TOLERANCE_SECONDS = 5 * 60


class SignatureInvalid(Exception):
    """The message fails verification; the text says why."""


def secret_generate() -> str:
    """A new signing secret: `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_…` secret (the prefix is optional, as in the reference library).

    Raises `ValueError` for a secret that is not base64 or decodes to nothing.
    """
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "==", validate=False)
    except (binascii.Error, ValueError):
        raise ValueError("A signing secret is whsec_ followed by base64.") from None
    if not key:
        raise ValueError("A signing secret may not be empty.")
    return key


def _as_bytes(body: str | bytes) -> bytes:
    return body.encode() if isinstance(body, str) else body


def sign(*, secret: str, msg_id: str, timestamp: int, body: str | bytes) -> str:
    """The `v1,<base64>` signature of one message under one secret."""
    signed = f"{msg_id}.{timestamp}.".encode() + _as_bytes(body)
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(
    *, secrets: Iterable[str], msg_id: str, timestamp: int, body: str | bytes
) -> str:
    """The `webhook-signature` header value: one signature per secret, space-separated."""
    return " ".join(
        sign(secret=secret, msg_id=msg_id, timestamp=timestamp, body=body) for secret in secrets
    )


def headers_sign(
    *, secrets: Iterable[str], msg_id: str, body: str | bytes, timestamp: int | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers of a message sent now (or at `timestamp`)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(
            secrets=secrets, msg_id=msg_id, timestamp=timestamp, body=body
        ),
    }


def verify(
    *,
    secret: str,
    headers: Mapping[str, str],
    body: str | bytes,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> None:
    """Check a received message, as a receiver does; raise `SignatureInvalid` unless one of the
    `v1` signatures in `webhook-signature` matches `secret` and `webhook-timestamp` lies within
    `tolerance` seconds of `now`. Header names are case-insensitive."""
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get("webhook-id")
    stamp = lowered.get("webhook-timestamp")
    listed = lowered.get("webhook-signature")
    if not (msg_id and stamp and listed):
        raise SignatureInvalid("Missing webhook-id, webhook-timestamp or webhook-signature.")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise SignatureInvalid("webhook-timestamp is not an integer.") from None
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise SignatureInvalid("webhook-timestamp is too far from the current time.")
    expected = sign(secret=secret, msg_id=msg_id, timestamp=timestamp, body=body).encode()
    for candidate in listed.split(" "):
        if candidate.startswith("v1,") and hmac.compare_digest(candidate.encode(), expected):
            return
    raise SignatureInvalid("No matching signature.")
