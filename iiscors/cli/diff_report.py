"""Reporters of ``iiscors diff``: the changes in access as text, JSON, GitHub workflow
annotations, a Markdown PR comment, or SARIF 2.1.0.

Every reporter takes the same :class:`DiffReport` and writes it to a stream; they only render
(the comparison is :func:`iiscors.policy.access.compare_access`, the exit code the command's).
File names, origins and header values come from the files compared, which a stranger's pull
request may have written: the text and Markdown formats show control and invisible formatting
characters escaped (``\\x1b``, ``\\u202e``), GitHub annotations escape them too and then use the
workflow-command escaping of :mod:`iiscors.cli.report`, and JSON and SARIF escape them by
construction.  The JSON shape (``DIFF_JSON_VERSION``) is documented in ``docs/cli.md``.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import quote

import click

from iiscors.cli.escape import github_data, github_property
from iiscors.cli.report import SARIF_SCHEMA, TOOL_NAME, artifact_uri
from iiscors.policy.access import Aspect, Cause, Change, Direction, OriginKind, Side, failing

#: The version of the ``diff --format json`` shape.
DIFF_JSON_VERSION = 1
#: A PR comment holds at most this many rows (GitHub refuses comments over 65,536 characters);
#: the loudest come first, and the rest are counted.
MARKDOWN_ROWS = 200

_KIND_NAMES = {
    OriginKind.EXACT: "exact origin",
    OriginKind.HOST_WILDCARD: "host wildcard",
    OriginKind.SCHEME_WILDCARD: "scheme wildcard",
    OriginKind.ANY: "every origin no other rule matches",
    OriginKind.UNLISTED: "every origin no rule matches",
    OriginKind.MALFORMED: "never echoed, contract B6",
    OriginKind.NO_ORIGIN: "not CORS requests",
    OriginKind.EVERY_RESPONSE: "customHeaders, contract C1",
}
_CAUSES = {
    Cause.RULE: "",
    Cause.ENABLED: "because <cors enabled> changed",
    Cause.MODULE: "because <modules> removed or restored the CorsModule",
    Cause.FAIL_UNLISTED: "because failUnlistedOrigins changed",
    Cause.CUSTOM_HEADERS: "",  # the kind says it
}
#: Unicode categories shown escaped: controls, invisible formatting (bidi overrides), separators.
_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"})


@dataclass(frozen=True, slots=True)
class Compared:
    """One comparison: the old and the new configuration's names (None: no file)."""

    old: str | None
    new: str | None


@dataclass(frozen=True, slots=True)
class DiffReport:
    """Everything one ``iiscors diff`` run found.

    :param compared: the pairs compared, in order.
    :param changes: every change, loudest first.
    :param fail_on: the ``--fail-on`` choice.
    :param old_label: how a location in the old configuration is marked (``old``, ``at REV``).
    """

    compared: tuple[Compared, ...]
    changes: tuple[Change, ...]
    fail_on: str = "none"
    old_label: str = "old"

    @property
    def failing(self) -> int:
        return sum(failing(change, self.fail_on) for change in self.changes)

    def count(self, direction: Direction) -> int:
        return sum(change.direction is direction for change in self.changes)

    @property
    def credentials(self) -> int:
        return sum(change.credentials for change in self.changes)


_SURROGATES = re.compile("[\ud800-\udfff]")


def json_text(document: object) -> str:
    """``document`` as indented JSON.  Non-ASCII stays readable, except in a document holding
    a file name that is not UTF-8 (its undecodable bytes are lone surrogates, which no UTF-8
    stream can write): then everything is escaped, which JSON reads back the same."""
    text = json.dumps(document, indent=2, ensure_ascii=False)
    if _SURROGATES.search(text):
        text = json.dumps(document, indent=2, ensure_ascii=True)
    return text


def uri(name: str) -> str:
    """:func:`iiscors.cli.report.artifact_uri`, or for a name that is not UTF-8 its bytes
    percent-encoded."""
    try:
        return artifact_uri(name)
    except UnicodeEncodeError:
        encoded = quote(os.fsencode(name))
        return f"file://{encoded}" if os.path.isabs(name) else encoded


def printable(text: str) -> str:
    """``text`` with control and invisible characters escaped (untrusted file content)."""
    if text.isprintable():
        return text
    return "".join(_escaped(char) for char in text)


def _escaped(char: str) -> str:
    if unicodedata.category(char) not in _HIDDEN:
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def label(change: Change) -> str:
    """The class as shown: ``widens, with credentials`` is the loudest."""
    return "widens, with credentials" if change.credentials else change.direction.value


def subject(change: Change) -> str:
    """Where and to whom: ``/api https://*.contoso.com (host wildcard)``."""
    scopes = ", ".join(change.scopes)
    return f"{scopes} {change.origin} ({_KIND_NAMES[change.kind]})"


def aspect_text(aspect: Aspect) -> str:
    requests = "" if aspect.requests == "all" else f" ({aspect.requests} requests)"
    return f"{aspect.what}: {aspect.old} → {aspect.new}{requests}"


def cause_text(change: Change) -> str:
    return _CAUSES[change.cause]


def position(change: Change, old_label: str) -> str:
    """``file:line``, marked when it is in the old configuration."""
    where = change.location
    if where is None:
        return "(no location)"
    text = str(where)
    return f"{text} ({old_label})" if change.side is Side.OLD else text


def summary(report: DiffReport) -> str:
    files = len(report.compared)
    compared = f"Compared {files} configuration{'' if files == 1 else 's'}"
    if not report.changes:
        return f"{compared}: no change in access."
    total = len(report.changes)
    text = (f"{compared}: {total} change{'' if total == 1 else 's'} in access "
            f"({report.count(Direction.WIDENS)} widen, of which {report.credentials} with "
            f"credentials; {report.count(Direction.NARROWS)} narrow; "
            f"{report.count(Direction.NEUTRAL)} neutral)")
    if report.fail_on != "none":
        text += f"; {report.failing} failing under --fail-on {report.fail_on}"
    return text + "."


def write_text(report: DiffReport, stream: TextIO) -> None:
    """``file:line: class: scope origin (kind) cause``, each aspect indented below."""
    for change in report.changes:
        cause = cause_text(change)
        head = f"{position(change, report.old_label)}: {label(change)}: {subject(change)}"
        click.echo(printable(f"{head} {cause}" if cause else head), file=stream)
        for aspect in change.aspects:
            click.echo("    " + printable(aspect_text(aspect)), file=stream)
    click.echo(printable(summary(report)), file=stream)


def message_lines(change: Change, old_label: str) -> list[str]:
    """One change in plain words, for annotations and SARIF: a headline, then each aspect."""
    lines = [f"{label(change)}: {subject(change)}"]
    if cause_text(change):
        lines[0] += f" {cause_text(change)}"
    if change.side is Side.OLD and change.location is not None:
        lines[0] += f" (line {change.location.line} of the {old_label} version)"
    lines.extend(aspect_text(aspect) for aspect in change.aspects)
    return lines


def message(change: Change, old_label: str) -> str:
    return "\n".join(message_lines(change, old_label))


def write_github(report: DiffReport, stream: TextIO) -> None:
    """One annotation per change: ``error`` when it widens with credentials, ``warning`` when
    it widens, ``notice`` otherwise.  A location in the old version is not a line of the
    file under review, so such a change is annotated on the file as a whole."""
    for change in report.changes:
        level = ("error" if change.credentials else
                 "warning" if change.direction is Direction.WIDENS else "notice")
        properties = []
        where = change.location
        if where is not None:
            properties.append(f"file={github_property(printable(where.file))}")
            if change.side is Side.NEW and where.line is not None:
                properties.append(f"line={where.line}")
        properties.append(f"title={github_property(f'iiscors diff: {label(change)}')}")
        lines = message_lines(change, report.old_label)
        text = github_data("\n".join(printable(line) for line in lines))
        click.echo(f"::{level} {','.join(properties)}::{text}", file=stream)
    click.echo(github_data(printable(summary(report))), file=stream)


def change_json(change: Change, report: DiffReport) -> dict[str, Any]:
    where = change.location
    return {
        "class": change.direction.value, "credentials": change.credentials,
        "failing": failing(change, report.fail_on),
        "scopes": list(change.scopes), "origin": change.origin, "kind": change.kind.value,
        "witness": change.witness, "cause": change.cause.value,
        "file": where.file if where else None, "line": where.line if where else None,
        "column": where.column if where else None, "side": change.side.value,
        "aspects": [{"what": a.what, "old": a.old, "new": a.new, "class": a.direction.value,
                     "requests": a.requests} for a in change.aspects],
        "message": message(change, report.old_label),
    }


def write_json(report: DiffReport, stream: TextIO) -> None:
    from iiscors import __version__

    document = {
        "version": DIFF_JSON_VERSION,
        "tool": {"name": TOOL_NAME, "version": __version__},
        "fail_on": report.fail_on,
        "compared": [{"old": c.old, "new": c.new} for c in report.compared],
        "summary": {"changes": len(report.changes),
                    "widens": report.count(Direction.WIDENS),
                    "narrows": report.count(Direction.NARROWS),
                    "neutral": report.count(Direction.NEUTRAL),
                    "credentials": report.credentials, "failing": report.failing},
        "changes": [change_json(change, report) for change in report.changes],
    }
    click.echo(json_text(document), file=stream)


def code(text: str) -> str:
    """A Markdown code span holding ``text`` literally (backticks, pipes and control
    characters included), safe inside a table cell."""
    shown = printable(text).replace("|", "\\|")
    longest = run = 0
    for char in shown:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if shown.startswith("`") or shown.endswith("`") or not shown.strip() else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


def _markdown_row(change: Change, report: DiffReport) -> str:
    aspects = "<br>".join(
        f"{a.what}: {code(a.old)} → {code(a.new)}"
        + ("" if a.requests == "all" else f" ({a.requests})") for a in change.aspects)
    cause = cause_text(change)
    if cause:
        aspects += f"<br>{cause}"
    cls = f"**{label(change)}**" if change.direction is Direction.WIDENS else label(change)
    return (f"| {cls} | {code(', '.join(change.scopes))} | {code(change.origin)} "
            f"({_KIND_NAMES[change.kind]}) | {aspects} | "
            f"{code(position(change, report.old_label))} |")


def write_markdown(report: DiffReport, stream: TextIO) -> None:
    """A pull-request comment: the summary, then one table row per change."""
    lines = ["### iiscors diff: changes in access", "", printable(summary(report))]
    if report.changes:
        lines += ["", "| Class | Scope | Origin | What changed | Where |",
                  "|---|---|---|---|---|"]
        lines += [_markdown_row(c, report) for c in report.changes[:MARKDOWN_ROWS]]
        hidden = len(report.changes) - MARKDOWN_ROWS
        if hidden > 0:
            lines += ["", f"… and {hidden} more (`--format json` lists them all)."]
    click.echo("\n".join(lines), file=stream)


#: SARIF rules: one per class, loudest first.
SARIF_RULES = (
    ("access-widens-credentials", "error", "Widens access with credentials"),
    ("access-widens", "warning", "Widens access"),
    ("access-narrows", "note", "Narrows access"),
    ("access-neutral", "note", "Changes the answer without changing access"),
)


def _sarif_rule(change: Change) -> int:
    if change.credentials:
        return 0
    return {Direction.WIDENS: 1, Direction.NARROWS: 2, Direction.NEUTRAL: 3}[change.direction]


def _sarif_result(change: Change, report: DiffReport) -> dict[str, Any]:
    index = _sarif_rule(change)
    result: dict[str, Any] = {
        "ruleId": SARIF_RULES[index][0], "ruleIndex": index, "level": SARIF_RULES[index][1],
        "message": {"text": message(change, report.old_label)},
        "properties": change_json(change, report),
    }
    where = change.location
    if where is not None:
        # A line of the old version is no line of the file under review: the file as a whole.
        line = where.line if change.side is Side.NEW and where.line else 1
        result["locations"] = [{"physicalLocation": {
            "artifactLocation": {"uri": uri(where.file)},
            "region": {"startLine": line}}}]
    return result


def write_sarif(report: DiffReport, stream: TextIO) -> None:
    from iiscors import __version__

    rules = [{"id": rule, "name": rule, "shortDescription": {"text": text},
              "defaultConfiguration": {"level": level},
              "properties": {"tags": ["cors", "iis", "web.config", "diff"]}}
             for rule, level, text in SARIF_RULES]
    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": TOOL_NAME, "version": __version__,
                                "semanticVersion": __version__, "rules": rules}},
            "invocations": [{"executionSuccessful": True}],
            "results": [_sarif_result(change, report) for change in report.changes],
        }],
    }
    click.echo(json_text(document), file=stream)


#: ``--format`` names.
DIFF_REPORTERS: dict[str, Callable[[DiffReport, TextIO], None]] = {
    "text": write_text, "json": write_json, "github": write_github,
    "markdown": write_markdown, "sarif": write_sarif,
}
