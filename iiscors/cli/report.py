"""Reporters: the diagnostics of ``iiscors validate`` written as text, JSON, GitHub workflow
annotations, SARIF 2.1.0 or JUnit XML.

Every reporter takes the same :class:`Report` (what was checked, what was found, whether warnings
count as failures) and writes it to a stream; :data:`REPORTERS` maps ``--format`` names to them.
Notes (contract C3) are shown in every format at their own level (SARIF ``note``, GitHub
``::notice``, JUnit ``<system-out>``) and are never a failure, even under ``--strict``.
Reporters never decide the exit code (the command does) and never judge a configuration (the
library does): they only render.  Everything a file or its name says is untrusted, and each
format escapes it with its own function of :mod:`iiscors.cli.escape` (issue 12).  The JSON and
SARIF shapes are documented in ``docs/cli.md``; ``JSON_VERSION`` changes only if the JSON shape
changes incompatibly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TextIO

import click

from iiscors.cli.escape import github_data, github_property, json_document
from iiscors.config.diagnostics import CATALOGUE, Diagnostic, Severity, where
from iiscors.config.text import line, visible

#: The version of the ``--format json`` shape.
JSON_VERSION = 1
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "iiscors"


@dataclass(frozen=True, slots=True)
class FileResult:
    """The diagnostics of one checked file (``name`` as displayed)."""

    name: str
    diagnostics: tuple[Diagnostic, ...]

    @property
    def errors(self) -> int:
        return sum(d.severity is Severity.ERROR for d in self.diagnostics)

    @property
    def warnings(self) -> int:
        return sum(d.severity is Severity.WARNING for d in self.diagnostics)

    @property
    def notes(self) -> int:
        return sum(d.severity is Severity.NOTE for d in self.diagnostics)

    @property
    def problems(self) -> bool:
        """Errors or warnings: what the summary counts as a file with problems (not notes)."""
        return self.errors > 0 or self.warnings > 0

    @property
    def unreadable(self) -> bool:
        """E100: the file could not be read at all (an I/O problem, exit code 2)."""
        return any(d.code == "E100" for d in self.diagnostics)


@dataclass(frozen=True, slots=True)
class Report:
    """Everything one ``iiscors validate`` run found.

    :param files: one result per checked file, in the order they were given.
    :param strict: warnings count as failures (``--strict``); notes never do (contract C3).
    """

    files: tuple[FileResult, ...]
    strict: bool = False

    @property
    def errors(self) -> int:
        return sum(f.errors for f in self.files)

    @property
    def warnings(self) -> int:
        return sum(f.warnings for f in self.files)

    @property
    def notes(self) -> int:
        return sum(f.notes for f in self.files)

    @property
    def unreadable(self) -> bool:
        return any(f.unreadable for f in self.files)

    def failed(self, result: FileResult) -> bool:
        """Errors, or warnings under ``--strict``; never notes (contract C3)."""
        return result.errors > 0 or (self.strict and result.warnings > 0)


class Reporter:
    """Base class: write one :class:`Report` to ``stream``.

    :param stream: where to write (standard output, or the ``--output`` file).
    :param colour: whether ANSI colour may be used (only the text reporter uses it).
    """

    name: ClassVar[str]

    def __init__(self, stream: TextIO, *, colour: bool = False) -> None:
        self.stream = stream
        self.colour = colour

    def write(self, report: Report) -> None:
        raise NotImplementedError

    def echo(self, text: str) -> None:
        click.echo(text, file=self.stream, color=self.colour)


REPORTERS: dict[str, type[Reporter]] = {}


def register(cls: type[Reporter]) -> type[Reporter]:
    REPORTERS[cls.name] = cls
    return cls


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary(report: Report) -> str:
    """The one-line summary of the text and GitHub formats; notes are counted on their own."""
    checked = f"Checked {_plural(len(report.files), 'file')}"
    notes = f", {_plural(report.notes, 'note')}" if report.notes else ""
    if not report.errors and not report.warnings:
        return f"{checked}: no problems{notes}."
    problems = sum(1 for f in report.files if f.problems)
    return (f"{checked}: {_plural(report.errors, 'error')}, "
            f"{_plural(report.warnings, 'warning')} in {_plural(problems, 'file')}{notes}.")


def tally(result: FileResult) -> str:
    """``1 error, 2 warnings`` (and the notes, when there are some), for JUnit's messages."""
    text = f"{_plural(result.errors, 'error')}, {_plural(result.warnings, 'warning')}"
    return text + (f", {_plural(result.notes, 'note')}" if result.notes else "")


@register
class TextReporter(Reporter):
    """``file:line:col: severity code message``, the fix indented below, then a summary."""

    name = "text"
    _COLOURS: ClassVar[Mapping[Severity, str]] = {Severity.ERROR: "red",
                                                   Severity.WARNING: "yellow",
                                                   Severity.NOTE: "cyan"}

    def write(self, report: Report) -> None:
        for result in report.files:
            for d in result.diagnostics:
                label = f"{d.severity.value} {d.code}"
                if self.colour:
                    label = click.style(label, fg=self._COLOURS[d.severity], bold=True)
                # The line starts with the file name: line() keeps it from starting a command.
                self.echo(f"{line(where(d))}: {label} {visible(d.message)}")
                for related in d.related:  # contract E1: the upper file's place
                    note = f"    note: {visible(str(related))}"
                    self.echo(click.style(note, dim=True) if self.colour else note)
                if d.fix:
                    fix = f"    fix: {visible(d.fix)}"
                    self.echo(click.style(fix, dim=True) if self.colour else fix)
        self.echo(summary(report))


@register
class GithubReporter(Reporter):
    """GitHub Actions workflow commands: one ``::error``/``::warning``/``::notice`` annotation
    per diagnostic, on its file and line, then the summary as a plain log line."""

    name = "github"
    #: GitHub's annotation levels: a note is a ``notice``
    COMMANDS: ClassVar[Mapping[Severity, str]] = {Severity.ERROR: "error",
                                                  Severity.WARNING: "warning",
                                                  Severity.NOTE: "notice"}

    def write(self, report: Report) -> None:
        for result in report.files:
            for d in result.diagnostics:
                properties = [f"file={github_property(d.file)}"]
                if d.line is not None:
                    properties.append(f"line={d.line}")
                    if d.column is not None:
                        properties.append(f"col={d.column}")
                properties.append(f"title={github_property(f'iiscors {d.code}')}")
                message = d.message + "".join(f"\nNote: {related}" for related in d.related)
                message += f"\nFix: {d.fix}" if d.fix else ""
                self.echo(f"::{self.COMMANDS[d.severity]} {','.join(properties)}::"
                          f"{github_data(message)}")
        self.echo(summary(report))


def diagnostic_json(d: Diagnostic) -> dict[str, Any]:
    document: dict[str, Any] = {"file": d.file, "line": d.line, "column": d.column,
                                "severity": d.severity.value, "code": d.code,
                                "message": d.message, "fix": d.fix}
    if d.related:  # contract E1; present only when there is some (a key added to shape 1)
        document["related"] = [{"note": r.note, "file": r.file, "line": r.line,
                                "column": r.column} for r in d.related]
    return document


def _sarif_location(file: str, line: int | None, column: int | None) -> dict[str, Any]:
    """A SARIF physicalLocation (a place without a line is put on line 1)."""
    region: dict[str, int] = {"startLine": line or 1}
    if line is not None and column is not None:
        region["startColumn"] = column
    return {"artifactLocation": {"uri": artifact_uri(file)}, "region": region}


@register
class JsonReporter(Reporter):
    """One JSON document (shape version :data:`JSON_VERSION`, documented in docs/cli.md)."""

    name = "json"

    def write(self, report: Report) -> None:
        from iiscors import __version__

        document = {
            "version": JSON_VERSION,
            "tool": {"name": TOOL_NAME, "version": __version__},
            "strict": report.strict,
            "summary": {"files": len(report.files), "errors": report.errors,
                        "warnings": report.warnings, "notes": report.notes,
                        "failed_files": sum(report.failed(f) for f in report.files)},
            "files": [{"file": f.name, "errors": f.errors, "warnings": f.warnings,
                       "notes": f.notes, "failed": report.failed(f),
                       "diagnostics": [diagnostic_json(d) for d in f.diagnostics]}
                      for f in report.files],
        }
        self.echo(json_document(document))


def artifact_uri(name: str) -> str:
    """A SARIF artifact URI: relative paths stay relative (code scanning resolves them against
    the repository root), absolute ones become ``file:`` URIs.  The name's own bytes are
    percent-encoded (``os.fsencode``), so a name that is not UTF-8 keeps its bytes."""
    from pathlib import Path, PurePath
    from urllib.parse import quote

    if name.startswith("<") and name.endswith(">"):
        return quote(name.strip("<>"))
    if os.path.isabs(name):
        return Path(name).as_uri()
    return quote(os.fsencode(PurePath(os.path.normpath(name)).as_posix()))


def sarif_rules() -> list[dict[str, Any]]:
    """Every catalogue code as a SARIF reportingDescriptor, in catalogue order."""
    rules = []
    for info in CATALOGUE.values():
        rules.append({
            "id": info.code,
            "name": info.code,
            "shortDescription": {"text": info.title},
            "fullDescription": {"text": info.title},
            "help": {"text": f"{info.fix}\nExample: {info.example}",
                     "markdown": f"{info.fix}\n\nExample: `{info.example}`"},
            "defaultConfiguration": {"level": info.severity.value},
            "properties": {"tags": ["cors", "iis", "web.config"]},
        })
    return rules


@register
class SarifReporter(Reporter):
    """SARIF 2.1.0 for GitHub code scanning: the catalogue as the driver's rules, one result per
    diagnostic with its physical location (a file-level problem is placed on line 1)."""

    name = "sarif"

    def write(self, report: Report) -> None:
        from iiscors import __version__

        index = {code: i for i, code in enumerate(CATALOGUE)}
        results = []
        for result in report.files:
            for d in result.diagnostics:
                entry: dict[str, Any] = {
                    "ruleId": d.code,
                    "ruleIndex": index[d.code],
                    "level": d.severity.value,
                    "message": {"text": d.message + (f" Fix: {d.fix}" if d.fix else "")},
                    "locations": [{"physicalLocation": _sarif_location(d.file, d.line,
                                                                       d.column)}],
                }
                if d.related:  # contract E1: SARIF's own place for the upper file's location
                    entry["relatedLocations"] = [
                        {"id": number, "message": {"text": r.note},
                         "physicalLocation": _sarif_location(r.file, r.line, r.column)}
                        for number, r in enumerate(d.related, start=1)]
                results.append(entry)
        document = {
            "$schema": SARIF_SCHEMA,
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {"name": TOOL_NAME, "version": __version__,
                                    "semanticVersion": __version__,
                                    "rules": sarif_rules()}},
                "columnKind": "unicodeCodePoints",
                "invocations": [{"executionSuccessful": not report.unreadable}],
                "results": results,
            }],
        }
        self.echo(json_document(document))


@register
class JunitReporter(Reporter):
    """JUnit XML: one ``<testcase>`` per file.  Errors (and warnings under ``--strict``) make a
    ``<failure>``; an unreadable file is an ``<error>``; other warnings and every note go to
    ``<system-out>`` (a note is never a failure, contract C3)."""

    name = "junit"

    def write(self, report: Report) -> None:
        import xml.etree.ElementTree as ET

        failures = sum(report.failed(f) and not f.unreadable for f in report.files)
        errors = sum(f.unreadable for f in report.files)
        counts = {"tests": str(len(report.files)), "failures": str(failures),
                  "errors": str(errors), "skipped": "0"}
        suites = ET.Element("testsuites", {"name": "iiscors validate", **counts})
        suite = ET.SubElement(suites, "testsuite", {"name": "iiscors validate", **counts})
        for result in report.files:
            case = ET.SubElement(suite, "testcase", classname="iiscors.validate",
                                 name=visible(result.name), file=visible(result.name))
            # Each diagnostic is a line of the element's text, starting with the file name.
            lines = "\n".join(line(f"{where(d)}: {d.severity.value} {d.code} {d.message}")
                              for d in result.diagnostics)
            problems = tally(result)
            if result.unreadable:
                element = ET.SubElement(case, "error", message=problems, type="io")
                element.text = lines
            elif report.failed(result):
                element = ET.SubElement(case, "failure", message=problems, type="iiscors")
                element.text = lines
            elif result.diagnostics:
                ET.SubElement(case, "system-out").text = lines
        ET.indent(suites)
        self.echo('<?xml version="1.0" encoding="UTF-8"?>')
        self.echo(ET.tostring(suites, encoding="unicode"))


def resolve_format(name: str, environ: Mapping[str, str]) -> str:
    """``auto`` is ``github`` under GitHub Actions (``GITHUB_ACTIONS=true``), else ``text``."""
    if name != "auto":
        return name
    return "github" if environ.get("GITHUB_ACTIONS") == "true" else "text"


def use_colour(choice: str, stream: TextIO, environ: Mapping[str, str],
               isatty: Callable[[TextIO], bool] | None = None) -> bool:
    """``--color``: ``always``, ``never``, or ``auto`` (a terminal, and ``NO_COLOR`` unset or
    empty, per https://no-color.org)."""
    if choice in ("always", "never"):
        return choice == "always"
    if environ.get("NO_COLOR"):
        return False
    check = isatty or _isatty
    return check(stream)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
