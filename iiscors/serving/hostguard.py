"""Answer only requests addressed to this server by a name it expects (DNS rebinding).

A development server on loopback is not private: any page its user visits can make its own
name resolve to 127.0.0.1 (*DNS rebinding*).  The browser then sends that page's requests to the
loopback server with ``Host: rebind.attacker.example`` and lets the page read the answers, as
same-origin ones.  A server that answers whatever Host arrives hands its data (for the
playground: the web.config and the log of requests) to that page.

The browser always sends the name from the page's URL, and the attacker's page has the
attacker's name, so the defence is the Host check: :class:`AllowedHosts` answers only a Host
whose name is loopback (``localhost``, ``127.0.0.0/8``, ``[::1]``) or was given explicitly
(``iiscors playground --allow-host NAME``), and whose port is the server's own.  Anything else
gets :func:`misdirected`: 421 Misdirected Request, a fixed text, and none of the server's data.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from iiscors.serving.network import is_loopback
from iiscors.wsgi import StartResponse, WSGIEnvironment

#: A DNS name as a Host may carry it (letters, digits, hyphens, dots; no port, no user).
_DNS_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9-]{1,63})*")
#: An optional port after the host, as RFC 9110's ``uri-host [ ":" port ]`` writes it.
_PORT = re.compile(r"[0-9]{1,5}")
#: The port a Host without one means, per scheme.
DEFAULT_PORTS = {"http": 80, "https": 443}
#: The answer to a request addressed to another name; it names no host (never the one asked).
REFUSAL = (b"421 Misdirected Request: this server answers only requests addressed to it by "
           b"a loopback name or a name given with --allow-host.\n")


def split_host(value: str) -> tuple[str, int | None] | None:
    """``(name, port)`` of a Host value (name lower-cased, IPv6 without brackets), or None
    when it is not ``uri-host [":" port]``."""
    if value.startswith("["):
        inside, bracket, rest = value[1:].partition("]")
        try:  # brackets hold an IPv6 address, nothing else (RFC 3986 IP-literal)
            name = ipaddress.IPv6Address(inside).compressed if bracket else ""
        except ValueError:
            return None
        if not name:
            return None
    else:
        name, colon, port = value.partition(":")
        rest = colon + port
    if rest and not (rest.startswith(":") and _PORT.fullmatch(rest[1:])):
        return None
    return name.lower(), int(rest[1:]) if rest else None


def host_name(value: str) -> str:
    """An ``--allow-host`` value as :class:`AllowedHosts` compares it.

    :raises ValueError: not a DNS name or an IP address (a URL, a port, a wildcard...).
    """
    name = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    try:
        return ipaddress.ip_address(name).compressed
    except ValueError:
        pass
    if not _DNS_NAME.fullmatch(name) or len(name) > 253:
        raise ValueError(f"{value!r} is not a host name or an IP address (write the name "
                         "alone, without scheme, port or wildcard)")
    return name.lower()


class AllowedHosts:
    """The Host values a server answers: loopback names, and ``names``, on its own port.

    :param names: further names the server may be addressed by (``--allow-host``), as
        :func:`host_name` accepts them.
    :raises ValueError: a name is not a host name or an IP address.
    """

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.names = frozenset(host_name(name) for name in names)

    def permits(self, host: str | None, scheme: str, server_port: str | int | None) -> bool:
        """Whether a request with this Host may be answered by a server on ``server_port``."""
        parsed = split_host(host) if host else None  # HTTP/1.1 requires Host; browsers send it
        if parsed is None:
            return False
        name, port = parsed
        if not (is_loopback(name) or name in self.names):
            return False
        expected = str(server_port) if server_port is not None else None
        return str(port if port is not None else DEFAULT_PORTS.get(scheme)) == expected

    def permits_environ(self, environ: WSGIEnvironment) -> bool:
        return self.permits(environ.get("HTTP_HOST"), str(environ.get("wsgi.url_scheme", "http")),
                            environ.get("SERVER_PORT"))


#: Loopback names only: what the playground's applications answer unless told otherwise.
LOOPBACK_ONLY = AllowedHosts()


def misdirected(start_response: StartResponse) -> list[bytes]:
    """Answer 421 with :data:`REFUSAL`, and nothing else (no CORS header, no data)."""
    start_response("421 Misdirected Request", [
        ("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(REFUSAL))),
        ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")])
    return [REFUSAL]
