"""IIS's request filtering for the static site: which names are never served (404).

Applied twice by :class:`iiscors.serving.static.StaticSite`: to the segments of the URL (what IIS
filters) and to the real path of the file actually opened, relative to the root (so that a
symlink cannot carry a hidden file out under a harmless name, issue 12 item 1).

- IIS's default ``hiddenSegments`` and ``fileExtensions`` deny lists, from the same
  applicationHost.config as :mod:`iiscors.serving.mimemap` (a server with ASP.NET installed,
  which adds everything but ``web.config``); segments compare case-insensitively;
- names Windows could not have or would open as something else: a trailing dot or space
  (``web.config.`` opens ``web.config`` on Windows), ``:`` (alternate data streams such as
  ``::$DATA``), the other characters no Windows file name has, control characters, and the
  reserved device names (``con.txt`` opens the console).  A site copied from Windows never has
  such a name, so refusing them loses nothing;
- double escaping (IIS's 404.11, ``allowDoubleEscaping="false"`` by default): a path that still
  decodes after the server has decoded it once, or that holds ``+``.
"""

from __future__ import annotations

from urllib.parse import unquote_plus

#: IIS's default hiddenSegments (web.config, and ASP.NET's folders).
HIDDEN_SEGMENTS = frozenset(s.casefold() for s in (
    "web.config", "bin", "App_code", "App_GlobalResources", "App_LocalResources",
    "App_WebReferences", "App_Data", "App_Browsers"))

#: IIS's default denied file extensions (source, project and configuration files).
DENIED_EXTENSIONS = frozenset(s.casefold() for s in (
    ".asax", ".ascx", ".master", ".skin", ".browser", ".sitemap", ".config", ".cs", ".csproj",
    ".vb", ".vbproj", ".webinfo", ".licx", ".resx", ".resources", ".mdb", ".vjsproj", ".java",
    ".jsl", ".ldb", ".dsdgm", ".ssdgm", ".lsad", ".ssmap", ".cd", ".dsprototype",
    ".lsaprototype", ".sdm", ".sdmDocument", ".mdf", ".ldf", ".ad", ".dd", ".ldd", ".sd",
    ".adprototype", ".lddprototype", ".exclude", ".refresh", ".compiled", ".msgx", ".vsdisco",
    ".rules"))

#: Characters no Windows file name contains (``/`` never reaches a segment).
_NOT_IN_WINDOWS_NAMES = frozenset('<>:"|?*\\')

#: Names Windows opens as devices, whatever the extension.
_DEVICE_NAMES = frozenset(("con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
                           *(f"lpt{i}" for i in range(10))))


def extension_of(name: str) -> str:
    """The extension IIS sees: from the last dot (``.htaccess`` has one), case-folded; ``""``
    for a name without a dot."""
    dot = name.rfind(".")
    return name[dot:].casefold() if dot >= 0 else ""


def refused_segment(segment: str) -> bool:
    """Whether a path segment (a directory or file name) is never served."""
    if segment in ("", ".", ".."):
        return True
    if any(ord(c) < 0x20 or c == "\x7f" or c in _NOT_IN_WINDOWS_NAMES for c in segment):
        return True
    if segment.endswith((".", " ")):
        return True
    if segment.split(".", 1)[0].rstrip(" ").casefold() in _DEVICE_NAMES:
        return True
    return segment.casefold() in HIDDEN_SEGMENTS


def refused_path(segments: list[str]) -> bool:
    """Whether a path (its segments, the file last) is never served."""
    return (any(refused_segment(s) for s in segments)
            or (bool(segments) and extension_of(segments[-1]) in DENIED_EXTENSIONS))


def double_escaped(path: str) -> bool:
    """IIS's 404.11: ``path`` (already decoded once by the server) would decode again."""
    return "+" in path or unquote_plus(path) != path
