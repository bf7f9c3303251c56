"""``configSource``: a section read from another file (contract E5).

``<cors configSource="cors.config"/>`` (and the same on ``<httpProtocol>`` and ``<modules>``,
the sections iiscors interprets; ``configSource`` belongs to a section element, so
``<customHeaders>``, an element of ``httpProtocol``, cannot carry it) makes IIS read the section
from that file, whose root element is the section element itself.  IIS resolves the path against
the including file's directory and only accepts a file in it or below it ([CFG-INTRO]: "file A
can only include file B if B is in physical subdirectory of A").  So here:

- either slash separates segments; an absolute path (``/x``, ``\\x``, ``C:x``, ``\\\\server``), a
  ``..`` segment or a path resolving through a link to outside the site is E306;
- the file is read like a web.config (:func:`iiscors.config.files.read_regular_file`: bounded,
  never blocking: a directory or a FIFO is E306 at once) and parsed by the hardened loader, so
  its errors are located in it; its root element must be the section's (E306);
- every file read is stamped before it is read, so that hot reload watches it
  (:mod:`iiscors.reload`).

:class:`Includer` is what :func:`iiscors.config.rules.read_levels` asks; it knows the including
file's directory and the site root, and remembers what it read.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from iiscors.config.diagnostics import Diagnostic, make_at
from iiscors.config.files import Stamp, read_regular_file, stamp
from iiscors.config.loader import DEFAULT_MAX_BYTES, XmlDocument, parse_bytes
from iiscors.policy.model import Location

#: The attribute, and the sections that may carry it (contract E5).
CONFIG_SOURCE = "configSource"
INCLUDABLE = ("cors", "httpProtocol", "modules")
#: .NET's own words for an including element that holds anything else (contract E5).
ONLY_CONFIG_SOURCE = ("A section using 'configSource' may contain no other attributes or "
                      "elements")
_ABSOLUTE = re.compile(r"^(?:[/\\]|[A-Za-z]:)")


@dataclass
class Includer:
    """Reads the configSource files of one web.config.

    :param directory: the including file's directory, or None when it has none (bytes).
    :param root: the site root (a configSource file must really be inside it).
    """

    directory: str | None
    root: str | None = None
    max_bytes: int = DEFAULT_MAX_BYTES
    #: every configSource file looked at, with its stamp taken before reading (for reload)
    read: list[tuple[str, Stamp]] = field(default_factory=list)

    def load(self, value: str, at: Location) -> tuple[XmlDocument | None, list[Diagnostic]]:
        """The document ``configSource=value`` names, or the located errors that refuse it."""
        path, problem = self._resolve(value)
        if path is None:
            return None, [make_at("E306", f"configSource=\"{value}\": {problem}", at)]
        self.read.append((path, stamp(path)))  # before reading: see SiteScan.stamps
        try:
            data = read_regular_file(path, self.max_bytes + 1)  # never blocks on a FIFO
        except IsADirectoryError:
            return None, [make_at("E306", f"configSource=\"{value}\" names a directory", at)]
        except OSError as exc:
            return None, [make_at("E306", f"configSource=\"{value}\" cannot be read: "
                                  f"{exc.strerror or exc}", at)]
        if len(data) > self.max_bytes:
            return None, [make_at("E306", f"configSource=\"{value}\" is larger than the limit "
                                  f"of {self.max_bytes} bytes", at)]
        return parse_bytes(data, path)

    def _resolve(self, value: str) -> tuple[str | None, str]:
        """The path ``value`` names, or None and why it is refused."""
        if self.directory is None:
            return None, "a configuration read from memory has no directory to read it from"
        written = value.strip()
        if not written:
            return None, "the path is empty"
        if _ABSOLUTE.match(written):
            return None, "an absolute path; write a path relative to this file's directory"
        segments = [s for s in re.split(r"[/\\]", written) if s not in ("", ".")]
        if ".." in segments or not segments:
            return None, "the path leaves this file's directory (IIS reads it only from there)"
        path = os.path.join(self.directory, *segments)
        real = os.path.realpath(path)
        boundary = os.path.realpath(self.root or self.directory)
        if real != boundary and not real.startswith(boundary.rstrip(os.sep) + os.sep):
            return None, "the path resolves through a link to outside the site"
        return path, ""
