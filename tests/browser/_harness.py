"""Run one ``fetch()`` in a page and report what Chromium concluded, in its own words."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from ._cdp import CdpError, JsonObject, Page

# The script the page runs. It reports only what a page script can observe: whether fetch()
# resolved, the status, the body, and each asked-for response header through
# Headers.get(), which returns null for a header CORS does not expose to the script.
_FETCH_JS = """
(async (spec) => {
  // No `cache: "no-store"`: Chromium then bypasses its preflight cache too, which would
  // make the maxAge cases meaningless. The echo app sends Cache-Control: no-store instead.
  const init = {method: spec.method, headers: spec.headers, credentials: spec.credentials,
                mode: "cors"};
  if (spec.body !== null) init.body = spec.body;
  try {
    const response = await fetch(spec.url, init);
    const headers = {};
    for (const name of spec.readHeaders) headers[name] = response.headers.get(name);
    return {allowed: true, status: response.status, body: await response.text(),
            headers: headers, error: null};
  } catch (error) {
    return {allowed: false, status: null, body: null, headers: {}, error: String(error)};
  }
})(%s)
"""


@dataclass(frozen=True)
class FetchSpec:
    """The request a page script makes, as ``fetch(url, {method, headers, body, credentials})``."""

    url: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None
    # "same-origin" is fetch()'s default; "include" sends cookies cross-origin.
    credentials: str = "same-origin"
    read_headers: tuple[str, ...] = ()


@dataclass(frozen=True)
class FetchOutcome:
    """What the browser concluded about one fetch()."""

    allowed: bool
    status: int | None
    body: str | None
    headers: dict[str, str | None]
    error: str | None
    # Chromium's own reasons, e.g. "PreflightMissingAllowOriginHeader" or
    # "HeaderDisallowedByPreflightResponse(x-custom)", from Network.loadingFailed.
    cors_errors: tuple[str, ...]
    # The console's "Access to fetch at ... has been blocked by CORS policy: ..." lines.
    console: tuple[str, ...]

    def reason(self) -> str:
        if self.allowed:
            return f"allowed, status {self.status}"
        parts = [f"blocked: {self.error}"]
        if self.cors_errors:
            parts.append(f"Chromium corsError: {', '.join(self.cors_errors)}")
        parts.extend(f"console: {line}" for line in self.console)
        return "; ".join(parts)


def _cors_errors(events: list[JsonObject], since: int) -> tuple[str, ...]:
    found: list[str] = []
    for event in events[since:]:
        if event.get("method") != "Network.loadingFailed":
            continue
        params = event.get("params", {})
        status = params.get("corsErrorStatus")
        if status:
            detail = status.get("failedParameter") or ""
            found.append(
                f"{status.get('corsError')}({detail})" if detail else str(status.get("corsError"))
            )
    return tuple(found)


def _console_lines(events: list[JsonObject], since: int) -> tuple[str, ...]:
    lines: list[str] = []
    for event in events[since:]:
        method = event.get("method")
        params = event.get("params", {})
        if method == "Log.entryAdded":
            lines.append(str(params.get("entry", {}).get("text", "")))
        elif method == "Runtime.consoleAPICalled":
            lines.append(" ".join(str(arg.get("value", "")) for arg in params.get("args", [])))
    return tuple(line for line in lines if "CORS" in line or "Access-Control" in line)


def run_fetch(page: Page, spec: FetchSpec) -> FetchOutcome:
    """Run ``spec`` in ``page`` and collect the outcome and Chromium's reasons."""
    since = len(page.events())
    payload = {
        "url": spec.url,
        "method": spec.method,
        "headers": dict(spec.headers),
        "body": spec.body,
        "credentials": spec.credentials,
        "readHeaders": list(spec.read_headers),
    }
    value = page.evaluate(_FETCH_JS % json.dumps(payload), timeout=20)
    if not isinstance(value, dict):
        raise CdpError(f"fetch script returned {value!r}")
    cors_errors: tuple[str, ...] = ()
    if not value["allowed"]:
        # The network event can trail the rejected promise by a moment; wait for it so a
        # blocked case always names Chromium's reason (or proves there was none).
        with contextlib.suppress(CdpError):
            page.browser.wait_for_event(
                page.session_id,
                "Network.loadingFailed",
                lambda params: bool(params.get("corsErrorStatus")) or bool(params.get("errorText")),
                timeout=3,
                start=since,
            )
        cors_errors = _cors_errors(page.events(), since)
    return FetchOutcome(
        allowed=bool(value["allowed"]),
        status=value["status"],
        body=value["body"],
        headers=dict(value["headers"]),
        error=value["error"],
        cors_errors=cors_errors,
        console=_console_lines(page.events(), since),
    )
