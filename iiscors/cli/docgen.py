"""Generate ``docs/diagnostics.md`` from the code catalogue, so the page cannot drift.

``python -m iiscors.cli.docgen`` rewrites the page; ``python -m iiscors.cli.docgen --check``
exits 1 when it is stale (``tests/cli/test_docgen.py`` does the same check).  The catalogue
(:data:`iiscors.config.diagnostics.CATALOGUE`) is the only source: edit it, then regenerate.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from iiscors.cli.fixes.catalogue import FIXES
from iiscors.config.diagnostics import CATALOGUE, CodeInfo

#: Where the page lives in a source checkout.
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "docs" / "diagnostics.md"

#: Section headings by code prefixes, in page order.
GROUPS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("E1",), "Errors: the file itself (contract A1, A2)"),
    (("E2",), "Errors: the section schema (contract A3-A5)"),
    (("E3",), "Errors: the configuration system (contract A4, A6, A9, E2, E5)"),
    (("E4",), "Errors: applicationHost.config (contract E4)"),
    (("W1", "N1"), "Structure: warnings and notes (contract A1, A6, C2)"),
    (("W2",), "Warnings: CORS policy lint"),
    (("W3", "N3"), "customHeaders lint: warnings and notes (contract C1, C3)"),
)

INTRO = """\
Every problem `iiscors validate` (and `check_config`, `load_config`) reports has a stable code.
Codes are never renumbered; new ones are only added. Contract C3 gives them three severities:

- **Errors** (`E…`) are what IIS itself refuses: the site would answer 500.19. A configuration
  with an error is unusable: the middleware refuses to load it (`ConfigError`), and
  `iiscors validate` exits 1.
- **Warnings** (`W…`) are configurations IIS accepts but that do not do what their author
  meant, or are unsafe. They never change behaviour. `iiscors validate` exits 0 on warnings,
  1 with `--strict`; `--ignore W213,W222` leaves chosen warnings out.
- **Notes** (`N…`, and `W101`) are information, such as "this `<rewrite>` section is not
  interpreted". They never change behaviour nor an exit code, even with `--strict`;
  `--ignore N301` leaves chosen notes out.

A code keeps its letter when its severity changes: `W101` was a warning and is now a note, and
kept its code so that `--ignore W101` and code-scanning alerts keep working. The table's
severity is the one that applies; each entry's **History** says when the code was added and
what changed since (versions as in CHANGELOG.md).

Each entry gives the meaning, an example that triggers it and the fix. See docs/cli.md for the
output formats.

Each entry also says whether `iiscors fix` repairs it in place (docs/cli.md): only where the
repair is unambiguous.
"""


#: Where a customHeaders entry's example comes from (contract C3: from the corpus).
_CORPUS = "tests/corpus/customheaders/"

#: How some checks decide, where the one-line title cannot say it all.
NOTES = {
    "W101": "A file is a CORS configuration when it has a `<cors>` section or an "
            "Access-Control-\\* header in `httpProtocol/customHeaders`, at its root or in a "
            "`<location>` (contract C2), even in a section IIS refuses. Views/Web.config files, "
            "transforms and project templates get this note and pass `--strict`. The example is "
            f"`{_CORPUS}08-views-web.config`.",
    "N101": "Reported once per file, at its first `system.webServer/rewrite` (root or "
            f"`<location>`), whatever the rules are (contract C2). Example: `{_CORPUS}"
            "24-spa-rewrite-no-cors.config`.",
    "W301": "Located at the `<add name=\"Access-Control-Allow-Credentials\">`, wherever the `*` "
            "is (the message names it). customHeaders are scoped like `<cors>`: a `<location>` "
            "or a sub-directory that adds one of the two headers to the other is reported there, "
            "once. The example is the pattern of four corpus files (`" + _CORPUS
            + "04-aspnetcore-star-credentials.config` and others).",
    "W302": "Commas, semicolons and spaces all separate origins here. The example follows `"
            + _CORPUS + "15-comma-separated-origins.config`.",
    "W303": "Not among the surveyed files (" + _CORPUS + "SOURCES.md); contract C3 names it, "
            "and it is the customHeaders form of W205.",
    "W304": "Reported with every reason at once: a pattern (a `*` or braces: only `<cors>` "
            "rules have wildcards), no scheme, upper-case letters, the default port, or a value "
            "that is no serialized origin. The example follows `" + _CORPUS
            + "16-wildcard-subdomain-origin.config`.",
    "W306": "Fetch compares the value with `true` byte for byte. `false` is N302.",
    "W307": "Fetch reads `*` in these lists as a wildcard only for requests without "
            "credentials.",
    "W308": "The response headers browsers read are Access-Control-Allow-Origin, "
            "-Allow-Credentials, -Allow-Methods, -Allow-Headers, -Expose-Headers, -Max-Age and "
            "-Allow-Private-Network; Access-Control-Request-\\* are request headers. A near miss "
            "is named in the message.",
    "W309": "Fetch parses the value as digits only; anything else is ignored and the preflight "
            "is cached for 5 seconds.",
    "N301": "A note, not a warning: on other responses browsers ignore these headers, and a "
            "customHeaders configuration cannot send them on preflights only, so sending them "
            "everywhere is how it works. Most customHeaders CORS files of the corpus have it "
            f"(`{_CORPUS}01-star-post-only.config`, for one).",
    "W203": "Loopback origins (`http://localhost`, `http://*.localhost`, `http://127.x.x.x`, "
            "`http://[::1]`, any port) are not reported: browsers treat them as secure contexts "
            "and nothing crosses a network.",
    "W204": "The configuration system compares keys case-insensitively, so IIS accepts the "
            "origin, but the module compares the Origin header case-sensitively (contract B5).",
    "W209": "Only `*`, `scheme://*` and `scheme://*.suffix[:port]` are wildcards (contract B5).",
    "W215": "Reported above 7,200 s: Chromium, the most used engine, caps the preflight cache "
            "there; the message says when Firefox's 86,400 s cap is exceeded too. For an "
            "Access-Control-Max-Age custom header it is located at the `<add>` (as in `"
            + _CORPUS + "21-httpplatform-one-day-max-age.config`).",
    "W220": "Located at each Access-Control-\\* `<add>` of customHeaders where an enabled "
            "`<cors>` (with the CorsModule) is in scope (contract C1, C3), once however many "
            "scopes inherit it.",
    "W218": "Reported at a `<cors>` whose rules apply in no scope where CORS is enabled: rules "
            "written at the root and enabled only in a `<location>` are not reported.",
    "W219": "Only when no rule has `allowed=\"false\"`: a denied rule still gets 403 from "
            "failUnlistedOrigins, so then the attribute does something.",
    "W222": "iiscors cannot know the site's own origin. It asks which rule an origin that no "
            "exact or host-wildcard rule names would get, for an `https:` and an `http:` "
            "origin. When either is refused (no allowed `*` or scheme wildcard covers it), the "
            "site's own pages get 403 on POST/PUT/DELETE unless the site's origin is one of the "
            "listed rules (contract B13). When the site's origin is listed, ignore it: "
            "`--ignore W222`. The middleware's `exempt_same_origin` option avoids the problem.",
}


def _md(text: str) -> str:
    """Prose for Markdown: characters that would become markup are escaped."""
    for char in "\\*_|":
        text = text.replace(char, "\\" + char)
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _example(info: CodeInfo) -> list[str]:
    if info.example.startswith("<"):
        return ["```xml", info.example, "```"]
    return [f"`{info.example}`" if not info.example.startswith("(") else info.example]


def _fixable(info: CodeInfo) -> str:
    """Whether ``iiscors fix`` repairs the code, and how (iiscors.cli.fixes.catalogue)."""
    if not info.fixable:
        return "Fixable: no."
    return f"Fixable: yes, `iiscors fix` {FIXES[info.code]}"


def render() -> str:
    """The whole page, as text."""
    lines = [
        "# Diagnostics",
        "",
        "<!-- Generated by `python -m iiscors.cli.docgen` from iiscors/config/diagnostics.py; "
        "do not edit by hand. -->",
        "",
        INTRO,
        "| Code | Severity | Meaning |",
        "|---|---|---|",
    ]
    lines.extend(f"| [{info.code}](#{info.code.lower()}) | {info.severity.value} | "
                 f"{_md(info.title)} |" for info in CATALOGUE.values())
    for prefixes, heading in GROUPS:
        members = [info for info in CATALOGUE.values() if info.code.startswith(prefixes)]
        if not members:
            continue
        lines.extend(["", f"## {heading}"])
        for info in members:
            lines.extend(_entry(info))
    known = tuple(prefix for prefixes, _ in GROUPS for prefix in prefixes)
    other = [info for info in CATALOGUE.values() if not info.code.startswith(known)]
    assert not other, f"codes without a docs group: {[info.code for info in other]}"
    return "\n".join(lines) + "\n"


def _entry(info: CodeInfo) -> list[str]:
    """One code's section: severity and meaning, example, fix, how it decides, history."""
    lines = ["", f"### {info.code}", "", f"**{info.severity.value}**: {_md(info.title)}.", "",
             "Example:", "", *_example(info), "", f"Fix: {_md(info.fix)}"]
    if info.code in NOTES:
        lines.extend(["", NOTES[info.code]])
    lines.extend(["", _fixable(info)])
    lines.extend(["", "History:", "", f"- {info.added}: added."])
    lines.extend(f"- {_md(change)}" for change in info.changed)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m iiscors.cli.docgen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    parser.add_argument("--output", type=Path, default=DEFAULT_PATH)
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale: run python -m iiscors.cli.docgen", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
