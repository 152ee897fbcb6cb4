"""The Host check of the web app (DNS rebinding): the rules, and the real server refusing a foreign
``Host`` header with HTTP 400 on every route, asked by a raw HTTP client."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from weightspace.atlas import create_app, start_server
from weightspace.atlas.hosts import HostCheck, parse_host


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("localhost:8050", ("localhost", 8050)),
        ("LocalHost", ("localhost", None)),
        ("[::1]:8050", ("::1", 8050)),
        ("127.0.0.1", ("127.0.0.1", None)),
        ("atlas.example.org:443", ("atlas.example.org", 443)),
        ("", None),
        ("a b:80", None),
        ("host:99999", None),
        ("host:0", None),
        ("user@host:80", None),
        ("::1", None),  # an IPv6 address needs its brackets
    ],
)
def test_host_headers_are_split_into_name_and_port(value, parsed):
    assert parse_host(value) == parsed


@pytest.mark.parametrize(
    ("bound", "allowed", "header", "port", "answered"),
    [
        # bound to loopback: its address and the loopback names, on the served port only
        ("127.0.0.1", (), "127.0.0.1:8050", 8050, True),
        ("127.0.0.1", (), "localhost:8050", 8050, True),
        ("127.0.0.1", (), "[::1]:8050", 8050, True),
        ("127.0.0.1", (), "localhost:9999", 8050, False),
        ("127.0.0.1", (), "localhost", 8050, False),
        ("127.0.0.1", (), "localhost", 80, True),  # port 80 is left out of the header
        ("127.0.0.1", (), "evil.example:8050", 8050, False),  # the rebinding attack
        ("127.0.0.1", (), "127.0.0.2:8050", 8050, False),
        ("127.0.0.1", (), None, 8050, False),
        ("::1", (), "[::1]:8050", 8050, True),
        ("localhost", (), "127.0.0.1:8050", 8050, True),
        # bound to one public address: that address only
        ("192.0.2.7", (), "192.0.2.7:8050", 8050, True),
        ("192.0.2.7", (), "localhost:8050", 8050, False),
        ("192.0.2.7", (), "192.0.2.8:8050", 8050, False),
        ("atlas.lan", (), "atlas.lan:8050", 8050, True),
        ("atlas.lan", (), "other.lan:8050", 8050, False),
        # bound to every interface: IP literals (never rebound) and localhost, not names
        ("0.0.0.0", (), "192.0.2.7:8050", 8050, True),
        ("0.0.0.0", (), "[2001:db8::1]:8050", 8050, True),
        ("0.0.0.0", (), "localhost:8050", 8050, True),
        ("0.0.0.0", (), "evil.example:8050", 8050, False),
        ("::", (), "evil.example:8050", 8050, False),
        # names for a reverse proxy: any port, or the one given
        ("127.0.0.1", ("atlas.example.org",), "atlas.example.org", 8050, True),
        ("127.0.0.1", ("atlas.example.org",), "ATLAS.example.org:443", 8050, True),
        ("127.0.0.1", ("atlas.example.org",), "evil.example.org", 8050, False),
        ("127.0.0.1", ("atlas.example.org:8443",), "atlas.example.org:8443", 8050, True),
        ("127.0.0.1", ("atlas.example.org:8443",), "atlas.example.org", 8050, False),
    ],
)
def test_only_the_names_the_app_is_served_on_are_answered(bound, allowed, header, port, answered):
    assert HostCheck(bound, allowed)(header, port) is answered


def test_a_malformed_allowed_host_is_refused():
    with pytest.raises(ValueError, match="--allowed-host 'a b'"):
        HostCheck("127.0.0.1", ["a b"])


# ------------------------------------------------------------------ the real server
@pytest.fixture(scope="module")
def server(atlas: Any) -> Iterator[Any]:
    app = create_app(atlas, allowed_hosts=["atlas.example.org"])
    with start_server(app) as srv:
        yield srv


def request(
    url: str, path: str, host: str | None, method: str = "GET", body: bytes | None = None
) -> tuple[int, bytes]:
    """One HTTP request with exactly the ``Host`` header given (none when None)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        if host is not None:
            conn.putheader("Host", host)
        if body is not None:
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


ROUTES = [
    ("GET", "/", None),
    ("GET", "/_dash-layout", None),
    ("GET", "/_dash-dependencies", None),
    ("GET", "/assets/atlas.js", None),
    ("POST", "/_dash-update-component", b"{}"),
    ("GET", "/no-such-page", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_a_foreign_host_header_is_refused_on_every_route(server, method, path, body):
    port = urlsplit(server.url).port
    status, text = request(server.url, path, f"rebound.example:{port}", method, body)
    assert status == 400
    assert b"unexpected Host header 'rebound.example:" in text
    assert b"--allowed-host" in text


def test_the_served_names_are_answered(server, atlas):
    port = urlsplit(server.url).port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "atlas.example.org"):
        status, text = request(server.url, "/", host)
        assert status == 200, host
        assert atlas.title.encode() in text
    assert request(server.url, "/_dash-layout", f"localhost:{port}")[0] == 200


@pytest.mark.parametrize(
    "host", [None, "", "localhost:1", "127.0.0.1.evil.example", "localhost.:{port}"]
)
def test_missing_or_near_miss_host_headers_are_refused(server, host):
    port = urlsplit(server.url).port
    status, _ = request(server.url, "/", None if host is None else host.format(port=port))
    assert status == 400


def test_serve_checks_the_host_it_binds(atlas, monkeypatch):
    import dash

    from weightspace.atlas import serve

    served = {}
    monkeypatch.setattr(dash.Dash, "run", lambda app, **kw: served.update(kw, app=app))
    serve(atlas, host="0.0.0.0", port=8123, allowed_hosts=["atlas.lan"])
    assert (served["host"], served["port"]) == ("0.0.0.0", 8123)
    client = served["app"].server.test_client()

    def status(host: str) -> int:
        environ = {"SERVER_PORT": "8123"}
        return client.get(
            "/_dash-layout", headers={"Host": host}, environ_overrides=environ
        ).status_code

    assert status("192.0.2.7:8123") == 200  # bound to every interface: its IP addresses
    assert status("atlas.lan") == 200
    assert status("rebound.example:8123") == 400
