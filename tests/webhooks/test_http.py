"""The SSRF-safe client (webhooks/http.py): which URLs and addresses are refused, and how it
behaves against a real receiver that hangs, resets, redirects or answers garbage."""

import ipaddress
import time

import pytest

from webhooks import http

BODY = b'{"event":"ping","webhook_id":1,"data":{"activity_id":1}}'


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "CGNAT"),
        ("100.127.255.254", "CGNAT"),
        ("fc00::1", "unique-local"),
        ("fd12:3456::1", "unique-local"),
        ("fec0::1", "site-local"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.1", "private"),  # documentation range
        ("198.18.0.1", "private"),  # benchmarking range
        ("2001:db8::1", "private"),  # documentation range
        ("::ffff:127.0.0.1", "loopback address (inside an IPv6 address)"),
        ("::ffff:169.254.169.254", "link-local address (inside an IPv6 address)"),
        ("::ffff:10.0.0.1", "private address (inside an IPv6 address)"),
        ("::127.0.0.1", "loopback address (inside an IPv6 address)"),  # IPv4-compatible
        ("2002:7f00:1::", "loopback address (inside an IPv6 address)"),  # 6to4
        ("64:ff9b::a00:1", "private address (inside an IPv6 address)"),  # NAT64
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
    ],
)
def test_it_refuses_every_non_public_address_class(address, why):
    refusal = http.address_refusal(ipaddress.ip_address(address))
    assert refusal is not None and why in refusal


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "100.63.255.1"]
)
def test_it_accepts_public_addresses(address):
    assert http.address_refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://example.org/hook", "https://"),
        ("ftp://example.org/hook", "https://"),
        ("example.org/hook", "https://"),
        ("https://user:pw@example.org/hook", "credentials"),
        ("https://token@example.org/hook", "credentials"),
        ("https:///hook", "no host"),
        ("https://example.org:99999/hook", "malformed"),
        ("https://example.org:0/hook", "port"),
        ("https://exa mple.org/hook", "spaces"),
        ("https://example.org/\x00", "control"),
        ("https://bücher.example/hook", "non-ASCII"),
        ("https://example.org/" + "a" * 2100, "longer than"),
        ("https://[::1/hook", "malformed"),
    ],
)
def test_it_refuses_malformed_urls(url, why):
    with pytest.raises(http.UrlRefused, match=why):
        http.url_parse(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://2130706433/hook",  # 127.0.0.1 in decimal
        "https://0177.0.0.1/hook",  # octal
        "https://0x7f.0.0.1/hook",  # hex
        "https://0x7f000001/hook",
        "https://127.1/hook",  # short form
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[::ffff:7f00:1]/hook",
        "https://[0:0:0:0:0:ffff:127.0.0.1]/hook",
        "https://localhost/hook",
        "https://localhost./hook",
        "https://vm/hook",  # a name that resolves (/etc/hosts) to 127.0.0.1
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/hook",
        "https://100.64.0.1/hook",
        "https://[fd00::1]/hook",
        "https://0.0.0.0/hook",
        "https://does-not-exist.invalid/hook",  # resolves to nothing
    ],
)
def test_it_refuses_urls_that_lead_to_private_addresses(url):
    with pytest.raises(http.UrlRefused):
        http.url_check(url, allow_private=False)
    with pytest.raises(http.UrlRefused):
        http.post(url, body=BODY, headers={}, allow_private=False, timeout=2)


def test_it_refuses_a_name_resolving_to_loopback_by_saying_where_it_leads():
    with pytest.raises(http.UrlRefused, match=r"vm \(127\.0\.0\.1\) is a loopback address"):
        http.url_check("https://vm/hook", allow_private=False)


def test_the_setting_allows_http_and_private_addresses_without_a_lookup():
    http.url_check("http://127.0.0.1:8000/hook", allow_private=True)
    http.url_check("http://not-resolvable.invalid/hook", allow_private=True)
    with pytest.raises(http.UrlRefused, match="credentials"):
        http.url_check("http://a:b@127.0.0.1/hook", allow_private=True)


def test_it_posts_the_body_and_headers_to_the_checked_address(receiver):
    answer = http.post(
        receiver.url + "?a=1",
        body=BODY,
        headers={"Content-Type": "application/json", "X-Asi-Api-Token": "secret-1"},
        allow_private=True,
    )
    assert answer.status == 200 and answer.body == b'{"received": true}'
    (request,) = receiver.requests
    assert request.path == "/hooks/asi?a=1"
    assert request.body == BODY
    assert request.headers["x-asi-api-token"] == "secret-1"
    assert request.headers["host"] == f"127.0.0.1:{receiver.port}"


def test_it_sends_the_host_name_while_connecting_to_the_resolved_address(receiver):
    http.post(f"http://vm:{receiver.port}/hook", body=BODY, headers={}, allow_private=True)
    assert receiver.requests[0].headers["host"] == f"vm:{receiver.port}"


def test_it_does_not_follow_redirects(receiver):
    receiver.answer("redirect")
    answer = http.post(receiver.url, body=BODY, headers={}, allow_private=True)
    assert answer.status == 302
    assert answer.location == "http://169.254.169.254/latest/meta-data/"
    assert len(receiver.requests) == 1


def test_it_gives_up_on_a_receiver_that_hangs(receiver):
    receiver.answer("hang")
    started = time.monotonic()
    with pytest.raises(http.DeliveryFailed, match="Timed out after 1 s"):
        http.post(receiver.url, body=BODY, headers={}, allow_private=True, timeout=1)
    assert time.monotonic() - started < 2


def test_it_gives_up_on_a_receiver_that_trickles_within_the_deadline(receiver):
    # Each byte comes well within the socket timeout; only the overall deadline stops it.
    receiver.answer("trickle")
    started = time.monotonic()
    with pytest.raises(http.DeliveryFailed, match="Timed out"):
        http.post(receiver.url, body=BODY, headers={}, allow_private=True, timeout=1.5)
    assert time.monotonic() - started < 2.5


def test_it_reports_a_reset_connection(receiver):
    receiver.answer("reset")
    with pytest.raises(http.DeliveryFailed, match="reset|closed the connection"):
        http.post(receiver.url, body=BODY, headers={}, allow_private=True)


def test_it_reports_garbage(receiver):
    receiver.answer("garbage")
    with pytest.raises(http.DeliveryFailed, match="Invalid HTTP answer"):
        http.post(receiver.url, body=BODY, headers={}, allow_private=True)


def test_it_reports_a_closed_port():
    with pytest.raises(http.DeliveryFailed, match="Connection refused"):
        http.post("http://127.0.0.1:9/hook", body=BODY, headers={}, allow_private=True)


def test_it_verifies_tls_certificates(receiver):
    # The receiver speaks plain HTTP: a TLS handshake with it fails, it is never sent in clear.
    with pytest.raises(http.DeliveryFailed, match="TLS"):
        http.post(
            f"https://127.0.0.1:{receiver.port}/hook", body=BODY, headers={}, allow_private=True
        )
    assert receiver.requests == []


@pytest.fixture
def tls_receiver(receiver, tmp_path):
    """A TLS front of `receiver`'s handler: a certificate for the name `vm` only (which
    resolves to 127.0.0.1 here), and the client context that trusts it."""
    import datetime
    import ssl
    import threading

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from tests.webhooks.conftest import QuietServer, _handler

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vm")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("vm")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = QuietServer(("127.0.0.1", 0), _handler(receiver))
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)
    server.socket = server_context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    client_context = ssl.create_default_context(cafile=str(cert_file))
    yield server.server_address[1], client_context
    server.shutdown()
    server.server_close()


def test_it_speaks_tls_to_the_checked_address_verifying_the_host_name(receiver, tls_receiver):
    port, context = tls_receiver
    answer = http.post(
        f"https://vm:{port}/hook", body=BODY, headers={}, allow_private=True, context=context
    )
    assert answer.status == 200
    assert receiver.requests[0].headers["host"] == f"vm:{port}"


def test_it_refuses_a_certificate_for_another_name(receiver, tls_receiver):
    port, context = tls_receiver
    # Same server, same address, but the URL names 127.0.0.1, which the certificate does not.
    with pytest.raises(http.DeliveryFailed, match="TLS certificate rejected"):
        http.post(
            f"https://127.0.0.1:{port}/hook",
            body=BODY,
            headers={},
            allow_private=True,
            context=context,
        )
    assert receiver.requests == []
