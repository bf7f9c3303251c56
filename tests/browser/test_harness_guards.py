"""The suite's own guards: they must be able to fail, or the browser verdicts mean nothing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pytest

from ._availability import in_ci, require_chromium
from ._cdp import Browser, Page
from ._harness import FetchSpec, run_fetch
from ._servers import ApiServer, PageServer
from .test_cors_in_chromium import ONLY_PAGE, Case, check

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def test_missing_chromium_skips_on_a_developer_machine() -> None:
    with pytest.raises(pytest.skip.Exception, match="no Chromium binary"):
        require_chromium(None, ci=False)


def test_missing_chromium_fails_in_ci() -> None:
    # CI installs chromium with apt; a skipped suite there would let CI pass untested.
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_chromium(None, ci=True)


def test_found_chromium_is_used() -> None:
    assert require_chromium("/usr/bin/chromium", ci=True) == "/usr/bin/chromium"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("TRUE", True), ("1", True), ("", False), ("false", False)],
)
def test_ci_detection(value: str, expected: bool) -> None:
    assert in_ci({"CI": value}) is expected


def _crashing_stack(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    raise RuntimeError("middleware bug")


def test_a_crash_never_passes_as_blocked(
    page: Page, page_server: PageServer, api_server: ApiServer
) -> None:
    """A stack that raises makes the browser report a CORS failure (a 500 without CORS
    headers); ``check`` must still refuse to call that a correct "blocked"."""
    token = api_server.install(_crashing_stack)
    page.navigate(f"http://127.0.0.1:{page_server.port}/")
    outcome = run_fetch(page, FetchSpec(url=f"http://127.0.0.1:{api_server.port}/api?{token}"))
    assert not outcome.allowed, outcome.reason()
    assert any(e.startswith("MissingAllowOriginHeader") for e in outcome.cors_errors), outcome
    expected_blocked = Case(
        id="would-pass-on-browser-evidence-alone",
        config=ONLY_PAGE,
        allowed=False,
        preflight=(),
        actual=(200,),
        app=("GET",),
        cors_error="MissingAllowOriginHeader",
    )
    with pytest.raises(AssertionError, match="crashed"):
        check(
            expected_blocked,
            [outcome],
            api_server.server_saw(token),
            api_server.app_saw(token),
            ONLY_PAGE,
        )


def test_each_case_gets_an_empty_preflight_cache(
    browser: Browser, page_server: PageServer, api_server: ApiServer
) -> None:
    """Two contexts, one maxAge=600 config: each context preflights again. Without this,
    a case could pass or fail on a preflight cached by the case before it."""
    from iiscors import CorsMiddleware

    config = (
        '<configuration><system.webServer><cors enabled="true">'
        f'<add origin="http://127.0.0.1:{page_server.port}" maxAge="600">'
        '<allowMethods><add method="PUT" /></allowMethods></add>'
        "</cors></system.webServer></configuration>"
    )
    token = api_server.install(CorsMiddleware(api_server.echo_app, config.encode()))
    spec = FetchSpec(url=f"http://127.0.0.1:{api_server.port}/api?{token}", method="PUT")
    for _ in range(2):
        tab = Page(browser)
        try:
            tab.navigate(f"http://127.0.0.1:{page_server.port}/")
            outcome = run_fetch(tab, spec)
            assert outcome.allowed, outcome.reason()
        finally:
            tab.close()
    methods = [seen.method for seen in api_server.server_saw(token)]
    assert methods == ["OPTIONS", "PUT", "OPTIONS", "PUT"], methods
