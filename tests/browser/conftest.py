"""Fixtures for the real-browser suite: one headless Chromium and two loopback servers per session.

Without a Chromium binary the suite skips with a clear message on a developer machine, but
FAILS when ``CI=true``: CI installs ``chromium`` with apt, so a missing browser there is a
broken install step, and a silently skipped suite would let CI pass without a browser ever
having judged the middleware.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from ._availability import in_ci, require_chromium
from ._cdp import HOST_RESOLVER_RULES, Browser, Page, find_chromium, make_workdir
from ._servers import ApiServer, PageServer
from ._verdict import TALLY

BROWSER_MARKER = "browser: end-to-end test that drives a headless Chromium (tests/browser/)"


def pytest_configure(config: pytest.Config) -> None:
    # Registered here rather than in pyproject.toml, which the lead owns; harmless if the
    # lead registers it there too.
    config.addinivalue_line("markers", BROWSER_MARKER)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # Contract F1: how many fetches the verdict was checked on against Chromium, and how many
    # agreed (a disagreement fails its scenario; this line gives the figure).
    if TALLY.checked:
        terminalreporter.write_line(TALLY.line())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Everything under tests/browser/ is a browser test, so `-m "not browser"` deselects
    # the whole directory without each module having to remember the marker.
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.path).startswith(here + os.sep):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    return require_chromium(find_chromium(), in_ci())


@pytest.fixture(scope="session")
def browser(chromium_executable: str) -> Iterator[Browser]:
    workdir = make_workdir()
    instance = Browser(
        chromium_executable,
        workdir,
        # Wildcard-subdomain cases use *.contoso.test / *.microsoft.test names, all mapped to
        # loopback; every other name fails to resolve, so nothing can leave the machine.
        extra_flags=[f"--host-resolver-rules={HOST_RESOLVER_RULES}"],
    )
    try:
        yield instance
    finally:
        instance.close()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def page_server() -> Iterator[PageServer]:
    server = PageServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def api_server() -> Iterator[ApiServer]:
    server = ApiServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A tab in a brand-new browser context: empty preflight cache, no cookies."""
    tab = Page(browser)
    try:
        yield tab
    finally:
        tab.close()
