"""The ``Host`` check of the atlas web app: the defence against DNS rebinding.

A page on ``evil.example`` whose DNS name is re-pointed at ``127.0.0.1`` can make a browser send
requests to a loopback server, with ``Host: evil.example:8050``. The app therefore answers only the
host names it is served on, and refuses every other ``Host`` header with HTTP 400 before any route
runs:

- the bound address with the served port (``127.0.0.1:8050``; bare ``127.0.0.1`` on port 80);
- ``localhost``, ``127.0.0.1`` and ``[::1]`` (with the served port) when bound to loopback or to
  every interface;
- any IP address (with the served port) when bound to every interface (``0.0.0.0`` or ``::``): an
  IP literal names the server itself and cannot be rebound;
- the names given as ``allowed`` (``--allowed-host``, for a reverse proxy): ``name`` with any port,
  or ``name:port`` exactly.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["HostCheck", "install_host_check", "parse_host"]

_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_WILDCARDS = frozenset({"0.0.0.0", "::", ""})
_HOST = re.compile(
    r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<name>[^\[\]:/\s@]+))(?::(?P<port>\d{1,5}))?$"
)


def parse_host(value: str) -> tuple[str, int | None] | None:
    """Split a ``Host`` header into (lower-case name, port); None when it is not ``name[:port]``.

    IPv6 addresses lose their brackets: ``"[::1]:8050"`` gives ``("::1", 8050)``.
    """
    m = _HOST.match(value.strip())
    if m is None:
        return None
    name = (m.group("v6") or m.group("name")).lower()
    port = m.group("port")
    if port is not None and not 1 <= int(port) <= 65535:
        return None
    return name, None if port is None else int(port)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _is_loopback(name: str) -> bool:
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class HostCheck:
    """Which ``Host`` headers a server bound to ``host`` answers.

    Parameters
    ----------
    host : str
        The address the server is bound to (``127.0.0.1``, ``::1``, ``0.0.0.0``, a host name).
    allowed : iterable of str, default=()
        Further names (a reverse proxy's): ``name`` matches any port, ``name:port`` only that port.

    Examples
    --------
    >>> check = HostCheck("127.0.0.1")
    >>> check("localhost:8050", 8050), check("evil.example:8050", 8050)
    (True, False)
    >>> HostCheck("127.0.0.1", ["atlas.example.org"])("atlas.example.org", 8050)
    True
    """

    def __init__(self, host: str, allowed: Iterable[str] = ()) -> None:
        bound = host.strip().strip("[]").lower()
        self.wildcard = bound in _WILDCARDS
        names = set() if self.wildcard else {bound}
        if self.wildcard or _is_loopback(bound):
            names |= _LOOPBACK_NAMES
        self.names = frozenset(names)
        self.any_port: set[str] = set()
        self.exact: set[tuple[str, int]] = set()
        for item in allowed:
            parsed = parse_host(item)
            if parsed is None:
                raise ValueError(f"--allowed-host {item!r}: expected a host name or name:port")
            name, port = parsed
            if port is None:
                self.any_port.add(name)
            else:
                self.exact.add((name, port))

    def __call__(self, header: str | None, port: int | None) -> bool:
        """Whether a request with this ``Host`` header, received on ``port``, is answered."""
        parsed = parse_host(header or "")
        if parsed is None:
            return False
        name, given = parsed
        if name in self.any_port or (given is not None and (name, given) in self.exact):
            return True
        same_port = given == port or (given is None and port == 80)
        return same_port and (name in self.names or (self.wildcard and _is_ip(name)))


def install_host_check(server: Any, check: Callable[[str | None, int | None], bool]) -> None:
    """Refuse requests whose ``Host`` fails ``check`` (HTTP 400) before any route of a Flask app.

    The port compared is the one the request arrived on (the WSGI ``SERVER_PORT``), so a server
    started on port 0 (any free port) is checked against the port it got.
    """
    from flask import request

    def _refuse_foreign_hosts() -> Any:
        try:
            port: int | None = int(request.environ.get("SERVER_PORT", ""))
        except ValueError:
            port = None
        header = request.headers.get("Host")
        if check(header, port):
            return None
        body = (
            f"unexpected Host header {header!r}: this atlas server answers only the names it is "
            "served on; behind a reverse proxy start it with --allowed-host NAME\n"
        )
        return body, 400, {"Content-Type": "text/plain; charset=utf-8"}

    server.before_request_funcs.setdefault(None, []).insert(0, _refuse_foreign_hosts)
