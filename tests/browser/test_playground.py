"""``iiscors playground`` as a person runs it: the real command, a real Chromium, real clicks.

The command line (``python -m iiscors playground``) starts the API and the page on free
loopback ports. Chromium loads the page, the test fills the form, clicks Send with a mouse
event, waits for the page to finish, and reads both panels from the DOM: what the browser
concluded and what ``explain`` says (rule with file:line, reason). A screenshot is taken and
decoded with the standard library to prove the page actually rendered.
"""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ._cdp import Page
from ._verdict import assert_words_agree

URLS = re.compile(r"iiscors: (API|playground): +(http://127\.0\.0\.1:\d+)/")
PLAYGROUND_CONFIG = (Path(__file__).resolve().parents[2] / "iiscors" / "serving" / "demo"
                     / "playground.config")

# Every plain-http origin is allowed (so the page's origin, whatever its port), with the
# header a JSON POST needs; the preflight cache is off so each Send preflights again.
OPEN_CONFIG = """<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <system.webServer>
    <cors enabled="true" failUnlistedOrigins="true">
      <add origin="http://*" maxAge="0">
        <allowHeaders>
          <add header="Content-Type" />
        </allowHeaders>
        <exposeHeaders>
          <add header="X-Total-Count" />
        </exposeHeaders>
      </add>
    </cors>
  </system.webServer>
</configuration>
"""


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the first occurrence of ``needle`` in ``text``."""
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the configuration")


@dataclass
class Running:
    api: str
    page: str
    config: Path
    process: subprocess.Popen[str]


def _start(config: Path | None, log_path: Path) -> Iterator[Running]:
    args = [sys.executable, "-m", "iiscors", "playground"]
    if config is not None:
        args.append(str(config))
    args += ["--api-port", "0", "--page-port", "0"]
    with open(log_path, "w") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        found = _wait_for_urls(process, log_path)
        yield Running(api=found["API"], page=found["playground"] + "/",
                      config=config or PLAYGROUND_CONFIG, process=process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_for_urls(process: subprocess.Popen[str], log_path: Path) -> dict[str, str]:
    """The two URLs the command prints on start (its output goes to ``log_path``)."""
    deadline = time.monotonic() + 20
    found: dict[str, str] = {}
    while time.monotonic() < deadline:
        found = {m.group(1): m.group(2) for m in URLS.finditer(log_path.read_text())}
        if len(found) == 2 or process.poll() is not None:
            break
        time.sleep(0.1)
    if len(found) < 2:
        pytest.fail(f"iiscors playground did not start:\n{log_path.read_text()}")
    return found


@pytest.fixture
def open_playground(tmp_path: Path) -> Iterator[Running]:
    config = tmp_path / "web.config"
    config.write_text(OPEN_CONFIG, encoding="utf-8")
    yield from _start(config, tmp_path / "playground.log")


@pytest.fixture
def demo_playground(tmp_path: Path) -> Iterator[Running]:
    yield from _start(None, tmp_path / "playground.log")


# -- driving the page ------------------------------------------------------------------------


def fill_and_send(page: Page, *, method: str, path: str, headers: str = "", body: str = "",
                  credentials: str = "same-origin") -> dict[str, Any]:
    """Set the form's fields, click Send with a real mouse event, wait, read the panels."""
    values = {"method": method, "path": path, "headers": headers, "body": body,
              "credentials": credentials}
    page.evaluate(
        "((v) => { for (const [id, value] of Object.entries(v)) "
        "document.getElementById(id).value = value; })(" + json.dumps(values) + ")")
    box = page.evaluate(
        "(() => { const r = document.getElementById('send').getBoundingClientRect(); "
        "return {x: r.x + r.width / 2, y: r.y + r.height / 2}; })()")
    assert isinstance(box, dict)
    for kind in ("mousePressed", "mouseReleased"):
        page.send("Input.dispatchMouseEvent", {"type": kind, "x": box["x"], "y": box["y"],
                                                "button": "left", "clickCount": 1})
    state = page.evaluate(
        """new Promise((resolve) => {
             const status = document.getElementById('status');
             const started = Date.now();
             const poll = () => {
               if (status.dataset.state === 'done') resolve('done');
               else if (Date.now() - started > 15000) resolve(status.dataset.state);
               else setTimeout(poll, 50);
             };
             poll();
           })""", timeout=20)
    assert state == "done", f"the page never finished (state {state!r})"
    read = page.evaluate(
        """(() => {
             const text = (id) => document.getElementById(id).textContent;
             const verdict = (id) => document.getElementById(id).dataset.verdict;
             return {
               browserVerdict: verdict('browser-verdict'), browserText: text('browser-verdict'),
               browserResult: text('browser-result'),
               explainVerdict: verdict('explain-verdict'), explainText: text('explain-verdict'),
               predictedVerdict: verdict('predicted-verdict'),
               predictedText: text('predicted-verdict'),
               explainResult: text('explain-result'),
               decisions: [...document.querySelectorAll('#explain-result .decision')]
                 .map((d) => d.dataset.kind),
               config: text('config'),
               injected: document.querySelectorAll('#injected, #config add').length,
             };
           })()""")
    assert isinstance(read, dict)
    # Contract F1: the verdict the server computed (rendered by the page) is what this very
    # browser concluded.
    assert_words_agree(f"playground {method} {path}", read["predictedVerdict"],
                       read["browserVerdict"], f"{read['predictedText']}\n{read['browserText']}")
    return read


def open_page(page: Page, url: str) -> None:
    page.send("Emulation.setDeviceMetricsOverride",
              {"width": 1280, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
    page.navigate(url)
    # The config panel is filled by the page's script once it has loaded.
    page.evaluate("""new Promise((resolve) => {
        const poll = () => document.querySelector('#config pre') ? resolve(true)
                                                                  : setTimeout(poll, 50);
        poll(); })""")


# -- the screenshot --------------------------------------------------------------------------


def png_pixels(data: bytes) -> tuple[int, int, set[bytes]]:
    """Decode an 8-bit, non-interlaced RGB(A)/grey PNG; return width, height, distinct pixels."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    offset, idat, header = 8, b"", None
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset:offset + 4])
        kind = data[offset + 4:offset + 8]
        chunk = data[offset + 8:offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length:offset + 12 + length])
        assert zlib.crc32(kind + chunk) == crc, f"bad CRC in {kind!r}"
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        elif kind == b"IEND":
            break
        offset += 12 + length
    assert header is not None, "no IHDR"
    width, height, depth, colour, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour)
    assert depth == 8 and channels is not None and interlace == 0, f"unsupported {header}"
    raw = zlib.decompress(idat)
    stride = width * channels
    assert len(raw) == height * (stride + 1), "truncated image data"
    previous = bytearray(stride)
    distinct: set[bytes] = set()
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            up_left = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
                line[i] = (line[i] + pred) & 0xFF
            else:
                assert kind == 0, f"unknown filter {kind}"
        distinct.update(bytes(line[i:i + channels]) for i in range(0, stride, channels))
        previous = line
    return width, height, distinct


def blank_png(width: int, height: int) -> bytes:
    """A one-colour PNG (for checking that the check can fail)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))
    rows = b"".join(b"\x00" + b"\xff\xff\xff" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                              0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def assert_not_blank(png: bytes) -> tuple[int, int, int]:
    width, height, distinct = png_pixels(png)
    assert width >= 800 and height >= 600, (width, height)
    assert len(distinct) > 16, f"the screenshot has only {len(distinct)} distinct pixel values"
    return width, height, len(distinct)


def screenshot(page: Page, path: Path) -> bytes:
    import base64

    data = base64.b64decode(page.send("Page.captureScreenshot", {"format": "png"})["data"])
    path.write_bytes(data)
    return data


def test_the_blank_check_can_fail() -> None:
    with pytest.raises(AssertionError, match="distinct pixel values"):
        assert_not_blank(blank_png(1280, 1000))
    with pytest.raises(AssertionError, match="not a PNG"):
        png_pixels(b"GIF89a")


# -- the cases -------------------------------------------------------------------------------


def test_allowed_preflighted_post(open_playground: Running, page: Page, tmp_path: Path) -> None:
    open_page(page, open_playground.page)
    result = fill_and_send(page, method="POST", path="/api/items",
                           headers="Content-Type: application/json",
                           body='{"name": "third"}')
    rule_line = line_of(OPEN_CONFIG, '<add origin="http://*"')
    # The browser: fetch() resolved and the script read the app's 201 and its body.
    assert result["browserVerdict"] == "allowed", result
    assert result["predictedText"] == ("browser (predicted): allowed: the page can read the "
                                       "response"), result
    assert "201" in result["browserText"], result
    assert '"received": {"name": "third"}' in result["browserResult"], result
    assert "preflight OPTIONS /api/items → 204" in result["browserResult"], result
    # explain: a preflight and the actual request, both allowed by the rule at its line.
    assert result["decisions"] == ["preflight", "actual"], result
    assert result["explainVerdict"] == "allowed", result
    assert f'origin="http://*" at {open_playground.config}:{rule_line}' \
        in result["explainText"], result
    assert "content-type is not a CORS-safelisted request header" in result["explainResult"]
    rule_row = f'origin="http://*" at {open_playground.config}:{rule_line}'
    assert result["explainResult"].count(rule_row) == 2, result
    assert "allows 'http://127.0.0.1:" in result["explainResult"], result
    # The active web.config is shown as text.
    assert '<add origin="http://*" maxAge="0">' in result["config"], result
    assert result["injected"] == 0
    png = screenshot(page, tmp_path / "playground-allowed.png")
    assert_not_blank(png)


def test_default_config_allows_the_page_on_the_api(demo_playground: Running, page: Page
                                                   ) -> None:
    open_page(page, demo_playground.page)
    result = fill_and_send(page, method="GET", path="/api/items")
    assert result["browserVerdict"] == "allowed", result
    assert "x-total-count: 2" in result["browserResult"], result
    assert result["explainVerdict"] == "allowed", result
    assert f"origin=\"http://*\" at {PLAYGROUND_CONFIG}:" in result["explainResult"], result


def test_allowed_simple_get_reads_exposed_header(open_playground: Running, page: Page) -> None:
    open_page(page, open_playground.page)
    result = fill_and_send(page, method="get", path="/api/items")
    assert result["browserVerdict"] == "allowed", result
    assert "x-total-count: 2" in result["browserResult"], result
    assert result["decisions"] == ["actual"], result
    assert "simple: no preflight" in result["explainResult"], result


def test_blocked_by_the_default_config(demo_playground: Running, page: Page,
                                       tmp_path: Path) -> None:
    open_page(page, demo_playground.page)
    probe = '<img id="injected" src="x">'
    result = fill_and_send(page, method="GET", path="/api/me",
                           headers=f"X-Probe: {probe}", credentials="include")
    config_text = PLAYGROUND_CONFIG.read_text(encoding="utf-8")
    cors_line = line_of(config_text, "<cors failUnlistedOrigins=\"true\">")
    # The browser: blocked, and it says so plainly; the server did answer (a 403 preflight).
    assert result["browserVerdict"] == "blocked", result
    assert "blocked by CORS" in result["browserText"], result
    # The server's verdict names the check, in Chromium's console words (contract F1).
    assert result["predictedText"] == (
        "browser (predicted): blocked: Response to preflight request doesn't pass access "
        "control check: No 'Access-Control-Allow-Origin' header is present on the requested "
        "resource."), result
    assert "preflight OPTIONS /api/me → 403" in result["browserResult"], result
    # explain: /api/me's <location> cleared the http://* rule: unlisted → 403, with the reason.
    assert result["decisions"] == ["preflight", "actual"], result
    assert result["explainVerdict"] == "denied", result
    assert "failUnlistedOrigins is true → 403" in result["explainText"], result
    assert "no rule matches" in result["explainText"], result
    assert "does not send the actual request" in result["explainResult"], result
    assert cors_line > 0
    # The header value and the config are text, never markup.
    assert probe in result["explainResult"], result
    assert result["injected"] == 0, result
    assert "<cors enabled=" in result["config"], result
    assert_not_blank(screenshot(page, tmp_path / "playground-blocked.png"))
