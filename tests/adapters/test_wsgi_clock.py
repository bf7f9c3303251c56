"""The WSGI adapter reads the clock only when a reload check can be due (issue 17).

``_next_check`` is ``math.inf`` while the reload thread times the checks (or nothing is
watched): a request then reads no clock at all, which every request, first sight or repeat,
used to pay.  With ``reload_interval=0`` (or once the thread must be restarted) it is finite,
and every request reads the clock and checks as before (iiscors.reload).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import create_environ, run_wsgi_app

import iiscors.wsgi as wsgi_module
from iiscors import CorsMiddleware

CONFIG = (b'<configuration><system.webServer><cors enabled="true">'
          b'<add origin="https://a.example"/></cors></system.webServer></configuration>')


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [])
    return [b""]


def counted_clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every read of the adapter's clock, from now on."""
    reads: list[float] = []
    real = wsgi_module._monotonic

    def clock() -> float:
        reads.append(now := real())
        return now

    monkeypatch.setattr(wsgi_module, "_monotonic", clock)
    return reads


def allowed_get(middleware: CorsMiddleware, origin: str = "https://a.example") -> str | None:
    _body, _status, headers = run_wsgi_app(
        middleware, create_environ("/", headers={"Origin": origin}))
    return headers.get("Access-Control-Allow-Origin")


@pytest.mark.parametrize("reload_interval", [1.0, 3600.0])
def test_no_clock_read_while_no_check_is_due(tmp_path: Path, reload_interval: float,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "web.config"
    config.write_bytes(CONFIG)
    for middleware in (CorsMiddleware(app, CONFIG),  # bytes: nothing to watch
                       CorsMiddleware(app, str(config), reload_interval=reload_interval)):
        assert middleware._next_check == math.inf
        reads = counted_clock(monkeypatch)
        for origin in ("https://a.example", "https://a.example", "https://b.example", None):
            if origin is None:
                run_wsgi_app(middleware, create_environ("/"))
            else:
                allowed_get(middleware, origin)
        assert reads == []


def test_a_due_check_still_reads_the_clock_and_polls(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "web.config"
    config.write_bytes(CONFIG)
    middleware = CorsMiddleware(app, str(config), reload_interval=0)  # every request checks
    assert middleware._next_check == 0.0
    polls: list[None] = []
    monkeypatch.setattr(middleware, "_poll", lambda: polls.append(None))
    reads = counted_clock(monkeypatch)
    assert allowed_get(middleware) == "https://a.example"
    assert allowed_get(middleware) == "https://a.example"
    assert len(reads) == 2 and len(polls) == 2
