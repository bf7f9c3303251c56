"""The browser's verdict (contract F1) checked against the real browser.

Every scenario the Chromium suites run is also judged by :func:`iiscors.policy.verdict.judge`,
from the decisions the configuration makes for the requests the page's ``fetch()`` sends. The
prediction and Chromium must agree: allowed or blocked, and when blocked, the same
``CorsError`` (with the same failed parameter) and the console line holding the verdict's
message. A disagreement fails the scenario with both answers.

What the prediction is given besides the configuration and the ``fetch()``: the status the app
answered a preflight with when the middleware let that preflight through (an input about the
app, like ``iiscors explain --app-status``), and whether page and API share an origin.

The tally of scenarios checked is printed at the end of the session (``conftest.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ._harness import FetchOutcome

if TYPE_CHECKING:
    # The package is imported when a scenario runs, not at collection (as _build_stack does),
    # so that a broken package fails each scenario with its own error.
    from iiscors.policy.explanation import Exchange
    from iiscors.policy.verdict import Verdict

#: What fetch() adds to a request with a string body and no Content-Type (Fetch, "extract a
#: body"): it is CORS-safelisted, so it never adds a preflight.
STRING_BODY_TYPE = ("Content-Type", "text/plain;charset=UTF-8")


@dataclass
class Tally:
    """How many scenarios were judged against Chromium, and how many agreed."""

    checked: int = 0
    agreed: int = 0
    through_chromium_departure: int = 0
    scenarios: list[str] | None = None

    def line(self) -> str:
        share = 100.0 * self.agreed / self.checked if self.checked else 0.0
        return (f"F1 verdict vs Chromium: {self.checked} fetches judged, {self.agreed} agreed "
                f"({share:.1f} %), {self.through_chromium_departure} of them through Chromium "
                "156's modelled departure from the standard")


TALLY = Tally(scenarios=[])


@dataclass(frozen=True)
class Fetch:
    """One ``fetch()`` as a scenario makes it."""

    page_origin: str
    url: str
    method: str = "GET"
    headers: Mapping[str, str] | None = None
    body: str | None = None
    credentials: str = "same-origin"


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def predict(config_text: str, fetch: Fetch, *, preflight_status: int | None = None,
            exempt_same_origin: bool = False) -> tuple[Verdict, Exchange | None, Exchange]:
    """The verdict for ``fetch`` under ``config_text``, with the exchanges it judged."""
    from iiscors.config.load import load_config
    from iiscors.policy.explanation import Exchange
    from iiscors.policy.fetch import browser_request
    from iiscors.policy.verdict import DEFAULT_APP_STATUS, flow, judge

    given = list((fetch.headers or {}).items())
    if fetch.body is not None and not any(name.lower() == "content-type" for name, _ in given):
        given.append(STRING_BODY_TYPE)
    plan = browser_request(fetch.method, given)
    parts = urlsplit(fetch.url)
    loaded = load_config(config_text.encode("utf-8"))
    first, then = flow(plan, fetch.page_origin, parts.path or "/", host=parts.netloc,
                       scheme=parts.scheme)
    preflight = None if first is None else Exchange(
        first, loaded.decide(first, exempt_same_origin=exempt_same_origin))
    actual = Exchange(then, loaded.decide(then, exempt_same_origin=exempt_same_origin))
    verdict = judge(plan, fetch.page_origin, fetch.credentials,
                    None if preflight is None else preflight.decision, actual.decision,
                    app_status=preflight_status or DEFAULT_APP_STATUS,
                    same_origin=fetch.page_origin == _origin_of(fetch.url))
    return verdict, preflight, actual


def _expected_error(verdict: Verdict) -> str | None:
    failure = verdict.chromium
    if failure is None:
        return None
    return f"{failure.check}({failure.parameter})" if failure.parameter else str(failure.check)


def disagreement(verdict: Verdict, outcome: FetchOutcome) -> str | None:
    """Why the prediction and Chromium disagree, or None when they agree."""
    expected = _expected_error(verdict)
    if expected is None:
        return None if outcome.allowed else "predicted allowed, Chromium blocked"
    if outcome.allowed:
        return f"predicted blocked ({expected}), Chromium allowed"
    if expected not in outcome.cors_errors:
        return f"predicted {expected}, Chromium said {list(outcome.cors_errors)}"
    assert verdict.chromium is not None
    message = verdict.chromium.message
    if not any(f"has been blocked by CORS policy: {message}" in line for line in outcome.console):
        return f"predicted the console message {message!r}, Chromium wrote {list(outcome.console)}"
    return None


def assert_agrees(scenario: str, verdict: Verdict, outcomes: list[FetchOutcome],
                  story: str) -> None:
    """Fail with both answers unless every fetch's outcome is the predicted one."""
    for number, outcome in enumerate(outcomes, 1):
        TALLY.checked += 1
        why = disagreement(verdict, outcome)
        predicted = verdict.word if verdict.failure is None else (
            f"{verdict.word}: {verdict.failure.check}({verdict.failure.parameter}) "
            f"{verdict.failure.message}")
        assert why is None, (
            f"the verdict (contract F1) disagrees with Chromium on fetch #{number} of "
            f"{scenario}: {why}\n  predicted: {predicted}"
            f"{' (Chromium 156 departure modelled)' if verdict.chromium_differs else ''}\n"
            f"  Chromium:  {outcome.reason()}\n{story}")
        TALLY.agreed += 1
        if verdict.chromium_differs:
            TALLY.through_chromium_departure += 1
        assert TALLY.scenarios is not None
        TALLY.scenarios.append(scenario)


def assert_words_agree(scenario: str, predicted: str, chromium: str, story: str) -> None:
    """The playground's form: the page shows the server's verdict beside what the browser
    did; both are words (``allowed``/``blocked``)."""
    TALLY.checked += 1
    assert predicted == chromium, (
        f"the verdict (contract F1) disagrees with Chromium on {scenario}: predicted "
        f"{predicted}, Chromium {chromium}\n{story}")
    TALLY.agreed += 1
    assert TALLY.scenarios is not None
    TALLY.scenarios.append(scenario)
