"""Coverage-guided fuzz target (atheris/libFuzzer) for the iiscors loader (issue 7; A2, A7, A8).

Each input is a web.config as bytes.  It fails (a libFuzzer crash) when:

- ``check_config`` or ``load_config`` raises anything but ``ConfigError``;
- they disagree (``check_config`` reports an error but ``load_config`` succeeds, or the reverse);
- a diagnostic has no file, a malformed code or an empty message;
- a configuration that loads yields a Decision whose headers are not valid HTTP field values.

Bounded run (what CI does through ``tests/hardening/test_fuzz_smoke.py``)::

    python tools/fuzz_loader.py --runs 2000              # or --max-time 10
    python tools/fuzz_loader.py -atheris_runs=2000       # libFuzzer/atheris flags pass through

Long run, with a persistent corpus (seeded on first use from ../shared/corpus/webconfigs and
sample_configs/; libFuzzer adds every input that finds new coverage)::

    mkdir -p .fuzz/loader
    python tools/fuzz_loader.py .fuzz/loader -max_total_time=3600 -timeout=5 -rss_limit_mb=512
    # several processes:  ... -jobs=4 -workers=2
    # a crash is written to ./crash-<sha1>; replay it (and then add it to a test):
    python tools/fuzz_loader.py ./crash-<sha1>

``-timeout`` turns a hang (one input taking longer) into a crash and ``-rss_limit_mb`` a memory
blow-up: both are bugs for a loader bounded by contract A2.  ``.fuzz/`` is not committed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import atheris  # type: ignore[import-untyped]  # no stubs published

REPO = Path(__file__).resolve().parents[1]
SEED_DIRS = [REPO / ".." / "shared" / "corpus" / "webconfigs", REPO / "sample_configs"]

with atheris.instrument_imports(include=["iiscors"]):
    from iiscors import ConfigError, check_config, load_config
    from iiscors.policy.core import CorsRequest

_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CODE = re.compile(r"[EWN]\d{3}")  # error, warning, note (contract C3)

#: libFuzzer dictionary: the tokens a web.config is made of, so mutations stay near valid XML.
DICTIONARY = [
    '<?xml version="1.0"?>',
    'encoding="utf-16"',
    "<configuration>",
    "</configuration>",
    "<system.webServer>",
    "</system.webServer>",
    "<cors",
    "</cors>",
    'enabled="true"',
    'failUnlistedOrigins="true"',
    "<add",
    "<remove",
    "<clear/>",
    'origin="',
    'allowed="false"',
    'allowCredentials="true"',
    'maxAge="',
    "<allowHeaders",
    "</allowHeaders>",
    'allowAllRequestedHeaders="true"',
    "<allowMethods>",
    "</allowMethods>",
    "<exposeHeaders>",
    "</exposeHeaders>",
    'header="',
    'method="',
    '<location path="',
    "</location>",
    "<httpProtocol>",
    "<customHeaders>",
    'name="',
    'value="',
    "<modules>",
    "CorsModule",
    "https://*.",
    "http://*",
    "null",
    "*",
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "&#10;",
    "&amp;",
    "<!DOCTYPE",
    "<!ENTITY",
    "SYSTEM",
    "\xef\xbb\xbf",
    "\xff\xfe",
    "/>",
    '"/>',
]

REQUESTS = [
    CorsRequest(method="GET", origin="https://app.contoso.com"),
    CorsRequest(method="GET", origin="null"),
    CorsRequest(
        method="OPTIONS",
        origin="https://a.example",
        request_method="PUT",
        request_headers="x-a, x-b",
        path="/api/x",
    ),
    CorsRequest(method="GET", path="/api"),
]


def check_headers(headers: object) -> None:
    for name, value in headers:  # type: ignore[attr-defined]
        if not (isinstance(name, str) and _TOKEN.fullmatch(name)):
            raise AssertionError(f"invalid header name {name!r}")
        if not (isinstance(value, str) and _FIELD_VALUE.fullmatch(value)):
            raise AssertionError(f"invalid header value {name}: {value!r}")


def test_one_input(data: bytes) -> None:
    diagnostics = check_config(data, name="fuzz.config")
    for diag in diagnostics:
        if diag.file != "fuzz.config" or not _CODE.fullmatch(diag.code) or not diag.message:
            raise AssertionError(f"malformed diagnostic {diag!r}")
    has_errors = any(d.severity == "error" for d in diagnostics)
    try:
        config = load_config(data, name="fuzz.config")
    except ConfigError:
        if not has_errors:
            raise AssertionError("load_config raised but check_config found no error") from None
        return
    if has_errors:
        raise AssertionError(f"check_config found errors but load_config succeeded: {diagnostics}")
    for request in REQUESTS:
        check_headers(config.evaluate(request).headers)


def run(
    target: Callable[[bytes], None], seed_dirs: list[Path], dictionary: list[str], description: str
) -> None:
    """Parse our options, seed a corpus, and hand the rest of argv to atheris/libFuzzer."""
    parser = argparse.ArgumentParser(description=description, allow_abbrev=False)
    parser.add_argument("--runs", type=int, help="stop after N inputs (bounded mode)")
    parser.add_argument("--max-time", type=int, help="stop after S seconds (bounded mode)")
    parser.add_argument("--seed", type=int, default=None, help="libFuzzer -seed (reproducible)")
    ours, rest = parser.parse_known_args()

    tmp = Path(tempfile.mkdtemp(prefix="iiscors-fuzz-"))
    try:
        libfuzzer = [sys.argv[0]]
        if ours.runs is not None:
            libfuzzer.append(f"-atheris_runs={ours.runs}")
        if ours.max_time is not None:
            libfuzzer.append(f"-max_total_time={ours.max_time}")
        if ours.seed is not None:
            libfuzzer.append(f"-seed={ours.seed}")
        if not any(a.startswith("-dict=") for a in rest):
            dict_file = tmp / "tokens.dict"
            dict_file.write_text(
                "".join(f"{_dict_entry(t)}\n" for t in dictionary), encoding="latin-1"
            )
            libfuzzer.append(f"-dict={dict_file}")
        positional = [a for a in rest if not a.startswith("-")]
        if not positional:
            # No corpus given: a throwaway one, so libFuzzer never writes into the seeds.
            corpus = tmp / "corpus"
            corpus.mkdir()
            rest.append(str(corpus))
            positional = [str(corpus)]
        first = Path(positional[0])
        if first.is_dir() and not any(first.iterdir()):
            for seed_dir in seed_dirs:
                if seed_dir.is_dir():
                    for seed in sorted(seed_dir.iterdir()):
                        if seed.is_file() and seed.suffix in (".config", ".txt", ".xml", ""):
                            shutil.copy(seed, first / f"{seed_dir.name}-{seed.name}")
        atheris.Setup(libfuzzer + rest, target)
        atheris.Fuzz()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _dict_entry(token: str) -> str:
    escaped = "".join(
        c if 0x20 <= ord(c) < 0x7F and c not in '"\\' else f"\\x{ord(c):02x}" for c in token
    )
    return f'"{escaped}"'


if __name__ == "__main__":
    run(test_one_input, SEED_DIRS, DICTIONARY, "Fuzz the iiscors web.config loader.")
