"""Hostile web.config files (issue 7; contract A2, A4, A7, A8).

Every payload of ``_payloads.PAYLOADS`` is parsed in a fresh interpreter by ``_probe.py``, which
watches for file and network access (audit hooks, a FIFO trap, a loopback listener) and measures
time and memory.  For each payload:

- ``check_config`` returns a clear, located error diagnostic (file and line set, no traceback);
- ``load_config`` raises ``ConfigError`` carrying it (contract A8: never half-works);
- both finish in under 2 s and grow the peak RSS by under 100 MB;
- nothing outside the package is opened and nothing is connected to.

The probes run in parallel (one subprocess each) in a module-scoped fixture; the tests then only
read their reports.  Controls at the end check that the same valid file in UTF-8, UTF-8 with BOM
and UTF-16 with BOM gives the same rules.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from _payloads import PAYLOADS, VALID_CONFIG

from iiscors import ConfigError, CorsMiddleware, check_config, load_config
from iiscors.policy.core import CorsRequest

HERE = Path(__file__).resolve().parent
PROBE = HERE / "_probe.py"
TIME_LIMIT_S = 2.0
MEMORY_LIMIT_BYTES = 100 * 1024 * 1024
PROBE_TIMEOUT_S = 60  # a hang (e.g. /dev/zero read) fails the payload instead of the session

NAMES = sorted(PAYLOADS)
HOSTILE = [n for n in NAMES if not PAYLOADS[n].accepted]
ACCEPTED = [n for n in NAMES if PAYLOADS[n].accepted]

def _params(names: list[str]) -> list[Any]:
    return list(names)


def _run_batch(names: list[str]) -> list[dict[str, Any]]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        proc = subprocess.run(
            [sys.executable, str(PROBE), *names],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            env=env,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        done = [json.loads(line) for line in out.splitlines() if line.strip()]
        hung = names[len(done)]
        return done + [
            {"name": n, "error": f"probe hung on {hung} for more than {PROBE_TIMEOUT_S} s"}
            for n in names[len(done) :]
        ]
    reports: list[dict[str, Any]] = [json.loads(line) for line in proc.stdout.splitlines()]
    for report in reports:
        report["stderr"] = proc.stderr
    for n in names[len(reports) :]:
        reports.append(
            {"name": n, "error": f"probe exited {proc.returncode}", "stderr": proc.stderr}
        )
    return reports


@pytest.fixture(scope="module")
def reports() -> dict[str, dict[str, Any]]:
    """Run every payload, in a few batches of fresh interpreters, two at a time."""
    workers = max(2, min(4, os.cpu_count() or 2))
    batches = [NAMES[i :: workers * 2] for i in range(workers * 2)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = [r for batch in pool.map(_run_batch, batches) for r in batch]
    return {r["name"]: r for r in results}


def _report(reports: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    report = reports[name]
    assert "error" not in report, f"{report['error']}\n{report.get('stderr', '')}"
    return report


def _errors(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for d in report["diagnostics"] if d["severity"] == "error"]


@pytest.mark.parametrize("name", NAMES)
def test_no_file_or_network_access(reports: dict[str, dict[str, Any]], name: str) -> None:
    """Contract A2: no DTD loading, no entity expansion, no network or file access."""
    report = _report(reports, name)
    assert report["fifo_opened"] == 0, "the parser opened a file the payload referenced"
    assert not report["network_connected"], "the parser connected to the payload's URL"
    assert report["audit_events"] == [], "file, network or process access during the parse"


@pytest.mark.parametrize("name", NAMES)
def test_bounded_time_and_memory(reports: dict[str, dict[str, Any]], name: str) -> None:
    """Issue 7: < 2 s and < 100 MB per hostile file (entity bombs, huge files, deep nesting)."""
    report = _report(reports, name)
    assert report["check_seconds"] < TIME_LIMIT_S
    assert report["load_seconds"] < TIME_LIMIT_S
    assert report["py_peak_bytes"] < MEMORY_LIMIT_BYTES
    assert report["rss_growth_kib"] * 1024 < MEMORY_LIMIT_BYTES


@pytest.mark.parametrize("name", NAMES)
def test_no_traceback(reports: dict[str, dict[str, Any]], name: str) -> None:
    report = _report(reports, name)
    assert "Traceback" not in report["stderr"]
    for diag in report["diagnostics"]:
        assert "Traceback" not in diag["message"]


@pytest.mark.parametrize("name", _params(HOSTILE))
def test_located_error_diagnostic(reports: dict[str, dict[str, Any]], name: str) -> None:
    """Contract A2/A7: a clear error with a stable code, the file and a line."""
    report = _report(reports, name)
    errors = _errors(report)
    assert errors, f"no error diagnostic: {report['diagnostics']}"
    expected = PAYLOADS[name].codes
    if expected:
        codes = {d["code"] for d in errors}
        assert codes & expected, f"expected one of {sorted(expected)}, got {errors}"
    for diag in errors:
        assert diag["file"] == report["display"]
        assert isinstance(diag["line"], int) and diag["line"] >= 1, diag
        assert diag["column"] is None or diag["column"] >= 1, diag
        assert diag["message"].strip(), diag


@pytest.mark.parametrize(
    "name", [n for n in HOSTILE if PAYLOADS[n].codes and PAYLOADS[n].codes <= {"E102", "E104"}]
)
def test_malformed_xml_has_a_column(reports: dict[str, dict[str, Any]], name: str) -> None:
    """Contract A2: "Malformed XML is an error with file:line:column"."""
    report = _report(reports, name)
    for diag in _errors(report):
        if diag["code"] == "E102":
            assert diag["column"] is not None, diag


@pytest.mark.parametrize("name", HOSTILE)
def test_load_config_raises_config_error(reports: dict[str, dict[str, Any]], name: str) -> None:
    """Contract A8: an unusable configuration raises ConfigError carrying the diagnostics."""
    report = _report(reports, name)
    assert report["load"]["raised"] == "ConfigError"
    check_error_codes = {d["code"] for d in _errors(report)}
    assert check_error_codes <= set(report["load"]["codes"])


@pytest.mark.parametrize("name", ACCEPTED)
def test_accepted_files_load_and_deny_strangers(
    reports: dict[str, dict[str, Any]], name: str
) -> None:
    """Valid controls (size boundary, raised limit, ignored XInclude) load without errors, and
    nothing smuggled in widens the policy: an unknown origin is never allowed."""
    report = _report(reports, name)
    assert _errors(report) == []
    assert report["load"]["raised"] is None
    decision = report["probe_decision"]
    assert decision is not None
    assert decision["outcome"] != "allowed"
    assert not any(h[0].lower().startswith("access-control-") for h in decision["headers"])


def test_traps_detect_an_unsafe_parser() -> None:
    """Canary: the same probe with a deliberately careless lxml parser (DTDs loaded, entities
    resolved, a urllib resolver) must trip the traps, so the tests above cannot pass vacuously."""
    names = [
        "xxe-file-entity",
        "external-dtd-file",
        "parameter-entity-file",
        "doctype-utf16-le-bom",
        "xxe-network-entity",
        "external-dtd-network",
    ]
    proc = subprocess.run(
        [sys.executable, str(PROBE), *names],
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT_S,
        env={**os.environ, "IIS_PROBE_UNSAFE": "1"},
    )
    got = {r["name"]: r for r in map(json.loads, proc.stdout.splitlines())}
    for name in names[:4]:
        assert got[name]["fifo_opened"] > 0, name
    for name in names[4:]:
        assert got[name]["network_connected"], name
        assert got[name]["audit_events"], name


# ---------------------------------------------------------------------------------------------
# In-process checks that need no isolation


@pytest.mark.parametrize("name", ["attlist-defaults-allow-credentials", "billion-laughs"])
def test_middleware_refuses_hostile_file(name: str) -> None:
    """Contract A8: building the middleware from a hostile file raises ConfigError."""
    data = PAYLOADS[name].build(_NO_TRAPS)
    with pytest.raises(ConfigError) as info:
        CorsMiddleware(_app, data)
    assert any(d.code == "E103" for d in info.value.diagnostics)


def _app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"app"]


class _NoTraps:
    fifo = "/nonexistent/iiscors-trap"
    url = "http://127.0.0.1:9/evil.dtd"
    port = 9


_NO_TRAPS: Any = _NoTraps()


# ---------------------------------------------------------------------------------------------
# Controls (contract A2): the same file in UTF-8, UTF-8+BOM, UTF-16 LE/BE+BOM gives the same rules

ENCODINGS = {
    "utf-8": VALID_CONFIG.format(encoding="utf-8").encode("utf-8"),
    "utf-8-no-declaration-encoding": VALID_CONFIG.format(encoding="utf-8")
    .replace(' encoding="utf-8"', "")
    .encode("utf-8"),
    "utf-8-bom": codecs.BOM_UTF8 + VALID_CONFIG.format(encoding="utf-8").encode("utf-8"),
    "utf-16-le-bom": codecs.BOM_UTF16_LE
    + VALID_CONFIG.format(encoding="utf-16").encode("utf-16-le"),
    "utf-16-be-bom": codecs.BOM_UTF16_BE
    + VALID_CONFIG.format(encoding="utf-16").encode("utf-16-be"),
}

PROBE_REQUESTS = [
    CorsRequest(method="GET", origin="https://app.contoso.com"),
    CorsRequest(method="GET", origin="https://blocked.contoso.com"),
    CorsRequest(method="GET", origin="https://evil.example"),
    CorsRequest(method="GET"),
    CorsRequest(
        method="OPTIONS",
        origin="https://app.contoso.com",
        request_method="POST",
        request_headers="content-type",
    ),
    CorsRequest(method="OPTIONS", origin="https://evil.example", request_method="POST"),
]


def _decisions(data: bytes) -> list[tuple[Any, ...]]:
    config = load_config(data, name="web.config")
    out = []
    for request in PROBE_REQUESTS:
        d = config.evaluate(request)
        out.append((d.kind, d.outcome, d.status, tuple(d.headers), d.reason))
    return out


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_encodings_give_the_same_rules(encoding: str) -> None:
    data = ENCODINGS[encoding]
    assert [d for d in check_config(data, name="web.config") if d.severity == "error"] == []
    assert _decisions(data) == _decisions(ENCODINGS["utf-8"])


def test_control_decisions_are_the_strict_policy() -> None:
    """Sanity check of the control itself, so the comparison above cannot pass vacuously."""
    config = load_config(ENCODINGS["utf-16-le-bom"], name="web.config")
    allowed = config.evaluate(CorsRequest(method="GET", origin="https://app.contoso.com"))
    assert allowed.outcome == "allowed"
    denied = config.evaluate(CorsRequest(method="GET", origin="https://blocked.contoso.com"))
    assert denied.outcome == "denied" and denied.status == 403


# ---------------------------------------------------------------------------------------------
# Values that reach response headers (contract A4; issue 7: never a 5xx).  PEP 3333 servers
# encode header values as latin-1 and gunicorn refuses non-token names: a configuration must
# either be refused at load time or only ever produce valid header names and values.
# (Found by tools/fuzz_loader.py: a mutated corpus/004.config with name="X-XSS-Prote@tion";
# fixed in 52bcf66 with E210.)

_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


def _wrap(inner: str) -> bytes:
    return f"<configuration><system.webServer>{inner}</system.webServer></configuration>".encode()


_STAR = '<cors enabled="true"><add origin="*" /></cors>'
HEADER_VALUE_CASES: list[Any] = [
    pytest.param(
        _wrap(
            '<httpProtocol><customHeaders><add name="X-A@b" value="1" /></customHeaders>'
            "</httpProtocol>" + _STAR
        ),
        id="custom-header-name-at-sign",
    ),
    pytest.param(
        _wrap(
            '<httpProtocol><customHeaders><add name="X A" value="1" /></customHeaders>'
            "</httpProtocol>" + _STAR
        ),
        id="custom-header-name-space",
    ),
    pytest.param(
        _wrap(
            '<httpProtocol><customHeaders><add name="X-A:" value="1" /></customHeaders>'
            "</httpProtocol>" + _STAR
        ),
        id="custom-header-name-colon",
    ),
    pytest.param(
        _wrap(
            '<httpProtocol><customHeaders><add name="X-A" value="\U0001f510" /></customHeaders>'
            "</httpProtocol>" + _STAR
        ),
        id="custom-header-value-emoji",
    ),
    pytest.param(
        _wrap(
            '<cors enabled="true"><add origin="*"><exposeHeaders><add header="x-\U0001f510" />'
            "</exposeHeaders></add></cors>"
        ),
        id="expose-headers-emoji",
    ),
    pytest.param(
        _wrap(
            '<cors enabled="true"><add origin="*"><allowMethods><add method="G\u0150T" />'
            "</allowMethods></add></cors>"
        ),
        id="allow-methods-non-latin1",
    ),
    pytest.param(
        _wrap(
            '<cors enabled="true"><add origin="*"><allowHeaders><add header="x-\u20ac" />'
            "</allowHeaders></add></cors>"
        ),
        id="allow-headers-non-latin1",
    ),
    pytest.param(
        _wrap(
            '<httpProtocol><customHeaders><add name="X-A" value="a&#10;b" /></customHeaders>'
            "</httpProtocol>" + _STAR
        ),
        id="custom-header-value-newline",
    ),
    pytest.param(
        _wrap(
            '<cors enabled="true"><add origin="*"><exposeHeaders><add header="x&#13;y" />'
            "</exposeHeaders></add></cors>"
        ),
        id="expose-headers-cr",
    ),
    pytest.param(
        _wrap(
            '<httpProtocol><customHeaders><add name="X-A" value="caf\u00e9" /></customHeaders>'
            "</httpProtocol>" + _STAR
        ),
        id="custom-header-value-latin1-ok",
    ),
]

_HEADER_PROBES = [
    CorsRequest(method="GET", origin="https://a.example"),
    CorsRequest(method="OPTIONS", origin="https://a.example", request_method="GET"),
    CorsRequest(method="GET"),
]


@pytest.mark.parametrize("data", HEADER_VALUE_CASES)
def test_values_reaching_headers_are_sendable_or_refused(data: bytes) -> None:
    try:
        config = load_config(data, name="web.config")
    except ConfigError as exc:
        assert exc.errors, "refused, with a located error"
        return
    for request in _HEADER_PROBES:
        for name, value in config.evaluate(request).headers:
            assert _HEADER_NAME.fullmatch(name), f"invalid header name {name!r}"
            assert _HEADER_VALUE.fullmatch(value), f"unsendable value {name}: {value!r}"
