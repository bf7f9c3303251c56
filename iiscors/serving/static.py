"""The static site of ``iiscors serve --root``: a directory's files served as IIS serves static
content (default documents, request filtering), as a plain WSGI application.

Use it behind :class:`iiscors.CorsMiddleware` (which ``serve --root`` does) or under any WSGI
server.  Not for: dynamic content, or a site whose files you do not trust to be served.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Iterable
from urllib.parse import quote

from werkzeug.utils import send_file

from iiscors.config.site import is_web_config
from iiscors.serving.responses import plain
from iiscors.wsgi import StartResponse, WSGIEnvironment

#: IIS's default request filtering (applicationHost.config): these segments are never served.
HIDDEN_SEGMENTS = frozenset(s.lower() for s in (
    "web.config", "bin", "App_code", "App_GlobalResources", "App_LocalResources",
    "App_WebReferences", "App_Data", "App_Browsers"))
#: IIS's default denied file extensions (source, project and configuration files).
DENIED_EXTENSIONS = frozenset((
    ".asax", ".ascx", ".master", ".skin", ".browser", ".sitemap", ".config", ".cs", ".csproj",
    ".vb", ".vbproj", ".webinfo", ".licx", ".resx", ".resources", ".mdb", ".vjsproj", ".java",
    ".jsl", ".ldb", ".dsdgm", ".ssdgm", ".lsad", ".ssmap", ".cd", ".dsprototype",
    ".lsaprototype", ".sdm", ".sdmdocument", ".mdf", ".ldf", ".ad", ".dd", ".ldd", ".sd",
    ".adprototype", ".lddprototype", ".exclude", ".refresh", ".compiled", ".msgx", ".vsdisco",
    ".rules"))
#: IIS's default documents, in IIS's order (only the static ones can be served here).
DEFAULT_DOCUMENTS = ("default.htm", "default.asp", "index.htm", "index.html", "iisstart.htm",
                     "default.aspx")
#: Types IIS knows that Python's table may not.
_EXTRA_TYPES = {".json": "application/json", ".webmanifest": "application/manifest+json",
                ".wasm": "application/wasm", ".woff2": "font/woff2", ".mjs": "text/javascript"}


class StaticSite:
    """Serve a directory's files the way IIS's static file handler does, safely.

    - ``GET``/``HEAD`` serve files (with ETag, Last-Modified, conditional and range requests);
      ``OPTIONS`` gets 200 with ``Allow`` (IIS's OPTIONSVerbHandler; a preflight the CORS
      middleware answers never gets here); other methods get 405;
    - a directory without a trailing slash is redirected to one (301); with it, the first
      default document is served, or 403 (IIS's 403.14: directory listing is off);
    - web.config is never served, nor anything IIS's default request filtering hides
      (``bin``, ``App_Data`` ..., ``.config``, ``.cs`` ...): 404 as on IIS;
    - a file type IIS would not know is 404 (IIS's 404.3);
    - names are matched case-insensitively when the exact name does not exist (a site copied
      from Windows keeps working); ``.``/``..`` segments, backslashes and NUL are 404, and so is
      anything whose real path (symlinks resolved) is outside the root.

    :param root: the site's directory.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.path.realpath(root)
        if not os.path.isdir(self.root):
            raise NotADirectoryError(f"not a directory: {root}")

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "OPTIONS":
            return plain(start_response, "200 OK", b"", [("Allow", "OPTIONS, GET, HEAD")])
        if method not in ("GET", "HEAD"):
            return plain(start_response, "405 Method Not Allowed", b"405 Method Not Allowed\n",
                          [("Allow", "OPTIONS, GET, HEAD")])
        raw = environ.get("PATH_INFO", "") or "/"
        target = self.resolve(raw)
        if target is None:
            return plain(start_response, "404 Not Found", b"404 Not Found\n")
        if os.path.isdir(target):
            if not raw.endswith("/"):
                location = quote((environ.get("SCRIPT_NAME", "") + raw + "/")
                                 .encode("latin-1"), safe="/")
                return plain(start_response, "301 Moved Permanently", b"",
                              [("Location", location)])
            document = self._default_document(target)
            if document is None:
                return plain(start_response, "403 Forbidden",
                              b"403 Forbidden: directory listing is denied\n")
            target = document
        mimetype = _mimetype(target)
        if mimetype is None:
            return plain(start_response, "404 Not Found", b"404 Not Found\n")
        response = send_file(target, environ, mimetype=mimetype, conditional=True)
        return response(environ, start_response)

    def resolve(self, path_info: str) -> str | None:
        """The real path to serve for a WSGI PATH_INFO, or None (404)."""
        try:
            path = path_info.encode("latin-1").decode("utf-8")
        except UnicodeError:
            return None
        segments = [s for s in path.split("/") if s]
        current = self.root
        for segment in segments:
            if (segment in (".", "..") or "\\" in segment or "\x00" in segment
                    or segment.lower() in HIDDEN_SEGMENTS or is_web_config(segment)):
                return None
            found = _child(current, segment)
            if found is None:
                return None
            current = found
        if segments and os.path.splitext(segments[-1])[1].lower() in DENIED_EXTENSIONS:
            return None
        real = os.path.realpath(current)
        if real != self.root and not real.startswith(self.root.rstrip(os.sep) + os.sep):
            return None  # a symlink out of the root
        return real

    @staticmethod
    def _default_document(directory: str) -> str | None:
        try:
            names = {name.lower(): name for name in os.listdir(directory)}
        except OSError:
            return None
        for candidate in DEFAULT_DOCUMENTS:
            name = names.get(candidate)
            if name is not None and os.path.isfile(os.path.join(directory, name)):
                return os.path.join(directory, name)
        return None


def _child(directory: str, name: str) -> str | None:
    exact = os.path.join(directory, name)
    if os.path.lexists(exact):
        return exact
    try:
        for candidate in os.listdir(directory):
            if candidate.lower() == name.lower():
                return os.path.join(directory, candidate)
    except OSError:
        return None
    return None


def _mimetype(path: str) -> str | None:
    extension = os.path.splitext(path)[1].lower()
    if extension in _EXTRA_TYPES:
        return _EXTRA_TYPES[extension]
    return mimetypes.guess_type(path, strict=False)[0]
