"""An opened regular file as a WSGI response: validators, conditional requests and byte ranges.

The header grammars are parsed by :mod:`werkzeug.http` (a well-kept implementation); the
decisions are made here, in RFC 9110's order (13.2.2: If-Match, If-Unmodified-Since,
If-None-Match, If-Modified-Since, then Range), because werkzeug's ``send_file`` raises
``RequestedRangeNotSatisfiable`` out of a plain WSGI application (a 500 without CORS headers,
issue 12 item 3), refuses a satisfiable multi-range request, and looks at Range before
If-None-Match.

- one satisfiable range: 206 with ``Content-Range``; a last byte past the end is clipped;
- no satisfiable range: 416 with ``Content-Range: bytes */LEN``;
- several ranges, some satisfiable: the whole file, 200.  IIS answers ``multipart/byteranges``
  there; RFC 9110 (14.2) lets a server ignore Range, and one 200 is simpler and cannot be
  abused to multiply the work (docs/serving.md);
- a malformed Range, an unknown unit, ranges out of order, a Range on HEAD (RFC 9110 defines
  ranges for GET only), or an If-Range that does not match: ignored, 200.

The body is read in chunks and never past the length announced, even if the file grows.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import BinaryIO

from werkzeug.http import (
    http_date,
    parse_date,
    parse_etags,
    parse_if_range_header,
    parse_range_header,
)

from iiscors.serving.responses import plain
from iiscors.wsgi import StartResponse, WSGIEnvironment

#: Bytes read from the file at a time.
CHUNK = 64 * 1024

#: Sent with every file: IIS sends no Cache-Control by default (only ``<clientCache>`` adds one);
#: this one makes a browser revalidate (cheap, 304) so that an edited file shows at once.
CACHE_CONTROL = ("Cache-Control", "no-cache")

#: What :func:`requested_span` answers when no requested range is satisfiable.
UNSATISFIABLE = "unsatisfiable"


class FileBody:
    """``length`` bytes of a file from ``start``, in chunks; closes the file (a WSGI body)."""

    def __init__(self, handle: BinaryIO, start: int, length: int) -> None:
        self._handle = handle
        self._start = start
        self._length = length

    def __iter__(self) -> Iterator[bytes]:
        self._handle.seek(self._start)
        remaining = self._length
        while remaining > 0:
            chunk = self._handle.read(min(CHUNK, remaining))
            if not chunk:
                return  # the file shrank: the server sees a short body and drops the connection
            remaining -= len(chunk)
            yield chunk

    def close(self) -> None:
        self._handle.close()


def serve_file(environ: WSGIEnvironment, start_response: StartResponse, handle: BinaryIO,
               st: os.stat_result, mime_type: str) -> Iterable[bytes]:
    """Answer a GET or HEAD with an opened file and its ``fstat`` (the file is closed here, or
    by the body when the server closes it)."""
    size = st.st_size
    etag = f'"{st.st_mtime_ns:x}:{size:x}"'  # IIS's shape: time and a change counter, in hex
    modified = int(st.st_mtime)
    validators = [("ETag", etag), ("Last-Modified", http_date(modified)), CACHE_CONTROL]
    status = precondition_status(environ, etag, modified)
    if status is not None:
        handle.close()
        if status.startswith("304"):
            start_response(status, validators)
            return []
        return plain(start_response, status, status.encode() + b"\n")
    span = requested_span(environ, etag, modified, size)
    if isinstance(span, str):  # UNSATISFIABLE
        handle.close()
        return plain(start_response, "416 Range Not Satisfiable",
                     b"416 Range Not Satisfiable\n",
                     [("Content-Range", f"bytes */{size}"), ("Accept-Ranges", "bytes")])
    headers = [("Content-Type", mime_type), ("Accept-Ranges", "bytes"), *validators]
    if span is None:
        status, start, stop = "200 OK", 0, size
    else:
        status, (start, stop) = "206 Partial Content", span
        headers.append(("Content-Range", f"bytes {start}-{stop - 1}/{size}"))
    headers.append(("Content-Length", str(stop - start)))
    start_response(status, headers)
    if environ.get("REQUEST_METHOD") == "HEAD":
        handle.close()
        return []
    return FileBody(handle, start, stop - start)


def precondition_status(environ: WSGIEnvironment, etag: str, modified: int) -> str | None:
    """RFC 9110 13.2.2 for GET/HEAD: "412 ...", "304 ..." or None (go on)."""
    bare = etag.strip('"')
    if_match = environ.get("HTTP_IF_MATCH")
    if if_match is not None:
        if not parse_etags(if_match).contains(bare):  # strong comparison
            return "412 Precondition Failed"
    elif _not_after(modified, environ.get("HTTP_IF_UNMODIFIED_SINCE")) is False:
        return "412 Precondition Failed"
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match is not None:
        if parse_etags(if_none_match).contains_weak(bare):  # weak comparison
            return "304 Not Modified"
    elif _not_after(modified, environ.get("HTTP_IF_MODIFIED_SINCE")):
        return "304 Not Modified"
    return None


def _not_after(modified: int, value: str | None) -> bool | None:
    """Whether ``modified`` is not after the date in ``value``; None without a valid date."""
    date = parse_date(value)
    return None if date is None else modified <= _seconds(date)


def _seconds(date: datetime) -> int:
    return int(date.timestamp())


def requested_span(environ: WSGIEnvironment, etag: str, modified: int,
                   size: int) -> tuple[int, int] | str | None:
    """The byte span to send, ``(start, stop)``; None for the whole file; or UNSATISFIABLE."""
    value = environ.get("HTTP_RANGE")
    if not value or environ.get("REQUEST_METHOD") != "GET":
        return None
    if_range = environ.get("HTTP_IF_RANGE")
    if if_range is not None and not _if_range_holds(if_range, etag, modified):
        return None
    parsed = parse_range_header(value)
    if parsed is None or parsed.units != "bytes":
        return None
    if not any(_satisfiable(begin, size) for begin, _ in parsed.ranges):
        return UNSATISFIABLE
    if len(parsed.ranges) > 1:
        return None
    begin, end = parsed.ranges[0]
    if begin < 0:  # a suffix: the last -begin bytes, or the whole file if it is shorter
        return max(size + begin, 0), size
    return begin, size if end is None else min(end, size)


def _satisfiable(begin: int, size: int) -> bool:
    # RFC 9110 14.1.1: a range is satisfiable when its first byte exists (a suffix range,
    # begin < 0, when the representation is not empty).
    return size > 0 if begin < 0 else begin < size


def _if_range_holds(value: str, etag: str, modified: int) -> bool:
    """RFC 9110 13.1.5: a strong ETag equal to ours, or exactly our Last-Modified."""
    if value.lstrip().startswith("W/"):
        return False
    parsed = parse_if_range_header(value)
    if parsed.date is not None:
        return _seconds(parsed.date) == modified
    return parsed.etag == etag.strip('"')
