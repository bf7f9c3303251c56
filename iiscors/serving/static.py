"""The static site of ``iiscors serve --root``: a directory's files served as IIS serves static
content (default documents, request filtering, the staticContent MIME map), as a plain WSGI
application.

Use it behind :class:`iiscors.CorsMiddleware` (which ``serve --root`` does) or under any WSGI
server.  Not for: dynamic content, or a site whose files you do not trust to be served.

The checks apply to the file actually opened (issue 12): the URL's segments pass IIS's request
filtering (:mod:`iiscors.serving.filtering`), then so does the real path of the file (symlinks
resolved, relative to the root), which must lie inside the root, and the file is opened by
:func:`iiscors.serving.fileio.open_regular`, which re-checks what it opened.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

from iiscors.config.loader import DEFAULT_MAX_BYTES
from iiscors.config.rules import fold_segment
from iiscors.serving.fileio import inside, open_regular
from iiscors.serving.fileresponse import serve_file
from iiscors.serving.filtering import (
    DENIED_EXTENSIONS,
    HIDDEN_SEGMENTS,
    double_escaped,
    refused_path,
)
from iiscors.serving.responses import plain
from iiscors.serving.siteconfig import SiteSettings
from iiscors.wsgi import StartResponse, WSGIEnvironment

#: IIS's default documents, in IIS's order (only the static ones can be served here).
DEFAULT_DOCUMENTS = ("default.htm", "default.asp", "index.htm", "index.html", "iisstart.htm",
                     "default.aspx")

ALLOW = ("Allow", "OPTIONS, GET, HEAD")

__all__ = ["DEFAULT_DOCUMENTS", "DENIED_EXTENSIONS", "HIDDEN_SEGMENTS", "StaticSite"]


@dataclass(frozen=True, slots=True)
class Reached:
    """Where a request path leads: the segments as written, the directories passed through (as
    reached, root first, each with its case-folded prefix), and the path reached."""

    segments: tuple[str, ...]
    directories: tuple[tuple[str, tuple[str, ...]], ...]
    path: str


class StaticSite:
    """Serve a directory's files the way IIS's static file handler does, safely.

    - ``GET``/``HEAD`` serve files (with ETag, Last-Modified, conditional and range requests);
      ``OPTIONS`` gets 200 with ``Allow`` (IIS's OPTIONSVerbHandler; a preflight the CORS
      middleware answers never gets here); other methods get 405;
    - a directory without a trailing slash is redirected to one (301, to a path on this site);
      with it, the first default document that exists is served, or 403 (IIS's 403.14:
      directory listing is off);
    - web.config is never served, nor anything IIS's default request filtering hides (``bin``,
      ``App_Data`` ..., ``.config``, ``.cs`` ...), by URL or by real path: 404 as on IIS;
    - a file type not in IIS's MIME map, as the site's web.config files change it, is 404
      (IIS's 404.3); an invalid ``<staticContent>`` is 500 (IIS's 500.19);
    - names are matched case-insensitively when the exact name does not exist (a site copied
      from Windows keeps working); ``.``/``..`` segments, backslashes, control characters, names
      Windows could not have, double escaping, and anything whose real path is outside the root
      or is not a regular file are 404.

    :param root: the site's directory.
    :param max_bytes: the size limit of each web.config read for ``<staticContent>``.
    """

    def __init__(self, root: str | os.PathLike[str], *,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = os.path.realpath(root)
        if not os.path.isdir(self.root):
            raise NotADirectoryError(f"not a directory: {root}")
        self._settings = SiteSettings(self.root, max_bytes=max_bytes)

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "OPTIONS":
            return plain(start_response, "200 OK", b"", [ALLOW])
        if method not in ("GET", "HEAD"):
            return plain(start_response, "405 Method Not Allowed", b"405 Method Not Allowed\n",
                         [ALLOW])
        path = _wsgi_text(environ.get("PATH_INFO", "") or "/")
        reached = None if path is None else self.reach(path)
        if path is None or reached is None:
            return _not_found(start_response)
        if os.path.isdir(reached.path):
            return self._directory(environ, start_response, path, reached)
        return self._file(environ, start_response, path, reached, reached.segments)

    def reach(self, path: str) -> Reached | None:
        """Follow a decoded request path through the tree; None (404) if it cannot be."""
        segments = tuple(s for s in path.split("/") if s)
        if refused_path(list(segments)):
            return None
        current = self.root
        prefix: tuple[str, ...] = ()
        directories = [(self.root, prefix)]
        for segment in segments:
            found = _child(current, segment)
            if found is None:
                return None
            current, prefix = found, (*prefix, fold_segment(segment))
            directories.append((current, prefix))
        # the last one is the target; it is a directory of the walk only if it is one
        kept = directories if os.path.isdir(current) else directories[:-1]
        return Reached(segments, tuple(kept), current)

    def _directory(self, environ: WSGIEnvironment, start_response: StartResponse, path: str,
                   reached: Reached) -> Iterable[bytes]:
        if self._real(reached.path) is None:
            return _not_found(start_response)  # a directory out of the root, or a hidden one
        if not path.endswith("/"):
            return plain(start_response, "301 Moved Permanently", b"",
                         [("Location", _location(environ, reached.segments))])
        document = _default_document(reached.path)
        if document is None:
            return plain(start_response, "403 Forbidden",
                         b"403 Forbidden: directory listing is denied\n")
        segments = (*reached.segments, os.path.basename(document))
        return self._file(environ, start_response, path, reached, segments, document)

    def _file(self, environ: WSGIEnvironment, start_response: StartResponse, path: str,
              reached: Reached, segments: tuple[str, ...],
              target: str | None = None) -> Iterable[bytes]:
        """Serve the file at ``target`` (by default the path reached), whose URL is
        ``segments``."""
        target = reached.path if target is None else target
        real = self._real(target)
        if real is None:
            return _not_found(start_response)
        settings = self._settings.settings(reached.directories,
                                           tuple(fold_segment(s) for s in segments))
        if settings.problems:
            return plain(start_response, "500 Internal Server Error",
                         b"500 Internal Server Error: a web.config is invalid (IIS's 500.19; "
                         b"the server's log says why)\n")
        if double_escaped(path) and not settings.allow_double_escaping:
            return _not_found(start_response)  # IIS's 404.11
        # IIS's 404.3, for the name served and for the real file's name
        mime_type = settings.mime_type(os.path.basename(target))
        if mime_type is None or settings.mime_type(os.path.basename(real)) is None:
            return _not_found(start_response)
        opened = open_regular(real, self.root)
        if opened is None:
            return _not_found(start_response)
        handle, st = opened
        return serve_file(environ, start_response, handle, st, mime_type)

    def _real(self, path: str) -> str | None:
        """The real path of ``path`` if it lies in the root and passes request filtering
        relative to it (the checks on the file actually opened); else None."""
        try:
            real = os.path.realpath(path, strict=True)
        except (OSError, ValueError):
            return None
        if not inside(real, self.root):
            return None
        relative = os.path.relpath(real, self.root)
        if relative != "." and refused_path(relative.split(os.sep)):
            return None
        return real


def _wsgi_text(value: str) -> str | None:
    """A WSGI path (bytes as latin-1) as the UTF-8 text it is, or None."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return None


def _not_found(start_response: StartResponse) -> list[bytes]:
    return plain(start_response, "404 Not Found", b"404 Not Found\n")


def _location(environ: WSGIEnvironment, segments: tuple[str, ...]) -> str:
    """The path of the directory with a trailing slash, built from non-empty segments only, so
    it never starts with ``//`` (a protocol-relative URL to another host, issue 12 item 4)."""
    # WSGI strings are latin-1; a server that breaks that rule gets "?" rather than a 500
    mount = environ.get("SCRIPT_NAME", "").encode("latin-1", "replace").split(b"/")
    parts = [p for p in mount if p] + [s.encode("utf-8") for s in segments]
    return quote(b"/" + b"/".join(parts) + b"/", safe="/")


def _default_document(directory: str) -> str | None:
    """The first of IIS's default documents that exists in ``directory`` (IIS takes the first
    that exists; if that one may not be served, the answer is 404, not the next one)."""
    try:
        names: dict[str, str] = {}
        for name in sorted(os.listdir(directory)):
            names.setdefault(name.casefold(), name)
    except OSError:
        return None
    for candidate in DEFAULT_DOCUMENTS:
        found = names.get(candidate)
        if found is not None:
            path = os.path.join(directory, found)
            if os.path.exists(path) and not os.path.isdir(path):
                return path
    return None


def _child(directory: str, name: str) -> str | None:
    """``directory/name``, or the entry whose name differs only in letter case."""
    exact = os.path.join(directory, name)
    if os.path.lexists(exact):
        return exact
    folded = name.casefold()
    try:
        for candidate in sorted(os.listdir(directory)):
            if candidate.casefold() == folded:
                return os.path.join(directory, candidate)
    except OSError:
        return None
    return None
