"""What browsers do with origins and preflight cache times, for the lint checks of ``<cors>``
rules (:mod:`iiscors.config.lint`) and of customHeaders (:mod:`iiscors.config.headerlint`).

Written once here so that both judge an origin or a cache time the same way (contract B5, B6,
C3; reference §3).
"""

from __future__ import annotations

import re

#: Chromium caps Access-Control-Max-Age at 7,200 s and Firefox at 86,400 s: anything above the
#: lower cap is not honoured by the most used browser (reference §3).
MAX_AGE_HONOURED = 7200
MAX_AGE_FIREFOX = 86400

#: Default ports that browsers never write in an Origin (URL standard: default port omitted).
DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}

#: where an origin's path, query or fragment would start (searched, not looped over: a
#: 10,000-origin file is linted on every load)
_PATH_START = re.compile(r"[/?#]")


def split_authority(rest: str) -> tuple[str, bool, str]:
    """``host[:port]`` of what follows ``scheme://``, whether a path, query or fragment
    followed, and that remainder."""
    found = _PATH_START.search(rest)
    if found is None:
        return rest, False, ""
    return rest[:found.start()], True, rest[found.start():]


def split_port(authority: str) -> tuple[str, str | None]:
    """``(host, port)`` of ``host[:port]``; the port is None when there is none."""
    if authority.startswith("["):
        close = authority.find("]")
        if close >= 0 and authority[close + 1:close + 2] == ":":
            return authority[:close + 1], authority[close + 2:]
        return authority, None
    host, sep, port = authority.rpartition(":")
    if sep and port.isdigit():
        return host, port
    return authority, None


def is_default_port(scheme: str, port: str | None) -> bool:
    """Whether ``port`` is the one browsers leave out of an Origin for ``scheme``."""
    return port is not None and DEFAULT_PORTS.get(scheme.lower()) == port.lstrip("0")


def max_age_ignored_by(seconds: int) -> str | None:
    """Which browsers do not honour a preflight cache time of ``seconds``, or None."""
    if seconds <= MAX_AGE_HONOURED:
        return None
    return "Chromium" if seconds <= MAX_AGE_FIREFOX else "Chromium and Firefox"


def never_exposed(name: str) -> bool:
    """Whether browsers never expose a response header of this name to scripts, whatever
    Access-Control-Expose-Headers says: the Access-Control-* ones (Fetch's CORS-safelisted
    and exposed names never include them; lint's W214, and the one-pass reader's test of
    whether W214 may fire on a rule)."""
    return name.lower().startswith("access-control-")
