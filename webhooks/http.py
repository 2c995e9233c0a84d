"""The outbound HTTP client of webhooks, safe against server-side request forgery. No Django.

A webhook URL is chosen by a user, so without care a delivery could reach the server's own
network: the loopback interface, the cloud metadata service (169.254.169.254), a database on a
private address. The rules, applied when a webhook is registered and again at every delivery
(DNS answers change between the two: "DNS rebinding"):

* `https://` only, no credentials in the URL;
* the host name is resolved once; every address it resolves to must be public (see
  `address_refusal`), including the IPv4 address inside IPv4-mapped / IPv4-compatible / 6to4 /
  NAT64 IPv6 forms; numeric spellings (`2130706433`, `0177.0.0.1`, `0x7f.1`) are resolved by
  the system like any name and land on the same check;
* the connection goes to the address that was checked, never through a second lookup, while TLS
  still verifies the certificate against the host name (SNI and `Host` are the name);
* redirects are never followed (a 3xx is a failed delivery), the whole exchange has one
  deadline (10 s), and at most `RESPONSE_READ_LIMIT` bytes of the answer are read.

With `allow_private` (the `WEBHOOKS_ALLOW_PRIVATE_URLS` setting, for development and tests) any
address and `http://` are accepted.
"""

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

TIMEOUT_SECONDS = 10.0
RESPONSE_READ_LIMIT = 64 * 1024
URL_MAX_LENGTH = 2048
USER_AGENT = "ASI-API-Webhooks/1"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Ranges Python's `is_global` misses or that deserve their own words in a refusal.
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")

# getaddrinfo cannot be given a timeout: it runs in these threads, waited on up to the deadline.
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-dns")


class UrlRefused(Exception):
    """The URL or the address it resolves to may not be called; the text says why."""


class DeliveryFailed(Exception):
    """The request could not be completed (no HTTP status); the text says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # the name as written (IPv6 literals without brackets)
    port: int
    path: str  # path and query, as sent in the request line


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    location: str | None  # the Location header of a redirect, for the delivery log
    body: bytes  # at most RESPONSE_READ_LIMIT bytes
    duration_ms: int


def address_refusal(address: IPAddress) -> str | None:
    """Why `address` may not be called (e.g. "a loopback address"), or None if it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is None and address in _IPV4_COMPATIBLE and int(address) > 1:
            embedded = ipaddress.IPv4Address(int(address))
        if embedded is not None:
            inner = address_refusal(embedded)
            return f"{inner} (inside an IPv6 address)" if inner else None
        if address.teredo:
            return "a Teredo tunnel address"
    checks = [
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT, "a CGNAT address"),
        (
            isinstance(address, ipaddress.IPv6Address) and address.is_site_local,
            "a site-local address",
        ),
        (
            isinstance(address, ipaddress.IPv6Address)
            and address in ipaddress.ip_network("fc00::/7"),
            "a unique-local address",
        ),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
        (not address.is_global, "a non-public address"),
    ]
    for refused, words in checks:
        if refused:
            return words
    return None


def url_parse(url: str, *, allow_private: bool) -> Target:
    """Check the form of `url` (no network); raise `UrlRefused` saying what is wrong."""
    if len(url) > URL_MAX_LENGTH:
        raise UrlRefused(f"The URL is longer than {URL_MAX_LENGTH} characters.")
    if not url.isascii() or any(ord(char) <= 0x20 or ord(char) == 0x7F for char in url):
        raise UrlRefused(
            "The URL may contain no spaces, control or non-ASCII characters "
            "(write an internationalised host name in its xn-- form, and percent-encode the path)."
        )
    try:
        parts: SplitResult = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UrlRefused(f"The URL is malformed: {error}.") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise UrlRefused("The URL must start with https://.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UrlRefused("The URL may not contain credentials (user:password@).")
    host = parts.hostname
    if not host:
        raise UrlRefused("The URL has no host.")
    if port == 0:
        raise UrlRefused("The URL's port must be from 1 to 65535.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(
        scheme=parts.scheme,
        host=host,
        port=port or (443 if parts.scheme == "https" else 80),
        path=path,
    )


def host_resolve(host: str, port: int, *, timeout: float = TIMEOUT_SECONDS) -> list[IPAddress]:
    """Every address `host` resolves to (once), in the system's order; `UrlRefused` if none."""
    future = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=timeout)
    except FutureTimeout:
        raise UrlRefused(f"Resolving {host} took longer than {timeout:g} s.") from None
    except (OSError, UnicodeError):
        raise UrlRefused(f"The host {host} does not resolve to an address.") from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        # Drop an IPv6 scope ("fe80::1%eth0"); the address alone is what is checked.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UrlRefused(f"The host {host} does not resolve to an address.")
    return addresses


def target_check(
    url: str, *, allow_private: bool, timeout: float = TIMEOUT_SECONDS
) -> tuple[Target, list[IPAddress]]:
    """Parse `url`, resolve its host once and check every address; returns the target and the
    addresses to connect to. `UrlRefused` says what is wrong."""
    target = url_parse(url, allow_private=allow_private)
    addresses = host_resolve(target.host, target.port, timeout=timeout)
    if not allow_private:
        for address in addresses:
            refusal = address_refusal(address)
            if refusal:
                shown = target.host if target.host == str(address) else f"{target.host} ({address})"
                raise UrlRefused(
                    f"The URL's host {shown} is {refusal}; only public ones are allowed."
                )
    return target, addresses


def url_check(url: str, *, allow_private: bool) -> None:
    """The registration check: `UrlRefused` unless `url` may receive webhooks.

    With `allow_private` only the form is checked (no lookup): development hosts need not
    resolve yet, and nothing is refused by address anyway.
    """
    if allow_private:
        url_parse(url, allow_private=True)
    else:
        target_check(url, allow_private=False)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to a checked address; `Host` stays the URL's host name."""

    def __init__(self, host: str, port: int, address: IPAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((str(self._address), self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    """TLS to a checked address, verifying the certificate against the host name (SNI too)."""

    default_port = 443

    def __init__(
        self, host: str, port: int, address: IPAddress, timeout: float, context: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, address, timeout)
        self._context = context

    def connect(self) -> None:
        super().connect()
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)


def _abort(connection: http.client.HTTPConnection) -> None:
    # Runs on the watchdog thread at the deadline: unblocks a receiver that trickles bytes
    # (each read within the socket timeout, the whole far beyond the deadline).
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def post(
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    allow_private: bool,
    timeout: float | None = None,
    context: ssl.SSLContext | None = None,
) -> Answer:
    """POST `body` to `url` under the rules of this module; returns the answer, whatever its
    status (redirects are answers, not followed). Raises `UrlRefused` for a refused URL or
    address and `DeliveryFailed` for a timeout, a reset, a TLS or protocol error.

    `timeout` defaults to `TIMEOUT_SECONDS`; `context` is the TLS context (default: the system's
    trust store, hostname verification on).
    """
    timeout = TIMEOUT_SECONDS if timeout is None else timeout
    started = time.monotonic()
    deadline = started + timeout
    target, addresses = target_check(url, allow_private=allow_private, timeout=timeout)
    last_error: Exception | None = None
    for address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        if target.scheme == "https":
            connection: http.client.HTTPConnection = _PinnedHTTPSConnection(
                target.host, target.port, address, remaining, context or _default_context()
            )
        else:
            connection = _PinnedHTTPConnection(target.host, target.port, address, remaining)
        try:
            connection.connect()
        except (OSError, ssl.SSLError) as error:
            last_error = error
            connection.close()
            continue
        return _exchange(connection, target, body, headers, started, deadline)
    if last_error is None:
        raise DeliveryFailed(f"Timed out after {timeout:g} s while resolving.")
    raise DeliveryFailed(_describe(last_error, timeout))


def _exchange(
    connection: http.client.HTTPConnection,
    target: Target,
    body: bytes,
    headers: dict[str, str],
    started: float,
    deadline: float,
) -> Answer:
    watchdog = threading.Timer(max(deadline - time.monotonic(), 0), _abort, args=(connection,))
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request(
            "POST",
            target.path,
            body=body,
            headers={"User-Agent": USER_AGENT, **headers, "Content-Length": str(len(body))},
        )
        response = connection.getresponse()
        content = response.read(RESPONSE_READ_LIMIT)
        if time.monotonic() > deadline:
            raise TimeoutError
        return Answer(
            status=response.status,
            reason=response.reason,
            location=response.getheader("Location"),
            body=content,
            duration_ms=round((time.monotonic() - started) * 1000),
        )
    except (OSError, ssl.SSLError, http.client.HTTPException, ValueError) as failure:
        # Past the deadline, whatever broke was the watchdog cutting the connection.
        error = TimeoutError() if time.monotonic() >= deadline else failure
        raise DeliveryFailed(_describe(error, deadline - started)) from None
    finally:
        watchdog.cancel()
        connection.close()


def _describe(error: Exception, timeout: float) -> str:
    if isinstance(error, TimeoutError | socket.timeout):
        return f"Timed out after {timeout:g} s."
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate rejected: {error.verify_message}."
    if isinstance(error, ssl.SSLError):
        return f"TLS error: {error.reason or error}."
    if isinstance(error, ConnectionRefusedError):
        return "Connection refused."
    if isinstance(error, ConnectionResetError):
        return "Connection reset by the receiver."
    if isinstance(error, http.client.RemoteDisconnected):
        return "The receiver closed the connection without answering."
    if isinstance(error, http.client.HTTPException):
        return f"Invalid HTTP answer: {type(error).__name__} {error}".strip() + "."
    return f"{type(error).__name__}: {error}."


_context: ssl.SSLContext | None = None


def _default_context() -> ssl.SSLContext:
    global _context
    if _context is None:
        _context = ssl.create_default_context()
    return _context
