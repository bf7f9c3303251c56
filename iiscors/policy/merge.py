"""Adding the middleware's headers to the application's own response headers (contract B11).

Both adapters call the application and then add the headers their plan says
(:class:`iiscors.policy.plan.Plan`) to whatever response it starts.  Most application headers
need nothing but appending; only a ``Vary`` (``Origin`` is merged into it, contract B11/B15) and
an ``Access-Control-*`` (kept, ours added too, and a warning logged once) need a look.  The same
merge serves both header forms: text pairs (WSGI) and raw byte pairs (ASGI), through the
:class:`HeaderWords` each form is spelled with.

Pure: no framework, no I/O beyond the one log line of :func:`warn_app_cors`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import AnyStr, Generic, NamedTuple

from iiscors.policy import headers

logger = logging.getLogger("iiscors")

#: First letters of "Vary" and "Access-Control-*": an application header whose name starts with
#: another letter needs nothing but appending (contract B11).  The adapters test the first
#: letter of each name before calling :func:`merge_into`, which makes the common case cheap.
MERGE_INITIALS = frozenset("VvAa")
#: The same letters for raw ASGI names; a tuple, so that a bytearray name (which cannot be
#: hashed) compares too.
MERGE_INITIALS_BYTES = (b"V", b"v", b"A", b"a")


class HeaderWords(NamedTuple, Generic[AnyStr]):
    """The words :func:`merge_into` compares and writes, in one header form (str or bytes)."""

    vary: AnyStr  # "vary", lower case, to compare names with
    access_control: AnyStr  # "access-control-", lower case
    star: AnyStr  # "*": Vary: * already varies on everything
    comma: AnyStr  # between the tokens of a header value
    joiner: AnyStr  # ", ": what joins Origin to an application's Vary
    our_vary: AnyStr  # "Vary" as the middleware's own headers spell it


#: Text headers: WSGI's ``start_response`` list.
STR_WORDS = HeaderWords("vary", headers.ACCESS_CONTROL_PREFIX, "*", ",", ", ", headers.VARY)
#: Raw headers: an ASGI ``http.response.start`` message.
BYTES_WORDS = HeaderWords(b"vary", headers.ACCESS_CONTROL_PREFIX.encode(), b"*", b",", b", ",
                          headers.VARY.encode())


class Merged(NamedTuple, Generic[AnyStr]):
    """What :func:`merge_into` returns."""

    #: the application's headers, then ours, Vary merged (a new list)
    headers: list[tuple[AnyStr, AnyStr]]
    #: the application set an Access-Control-* header itself (contract B11: say so, once)
    app_sets_cors: bool


def merge_into(app_headers: Sequence[tuple[AnyStr, AnyStr]],
               extra: Iterable[tuple[AnyStr, AnyStr]],
               words: HeaderWords[AnyStr]) -> Merged[AnyStr]:
    """Add ``extra`` to ``app_headers`` (contract B11), noticing in the same single pass whether
    the application set an Access-Control-* header itself.

    ``Vary: Origin`` is merged into an existing Vary (no second header, no duplicate token,
    ``Vary: *`` left alone); every other header is appended, even if the application set the
    same name, as IIS does.  The application's list is not modified.

    The adapters call it only when one of the application's header names starts with a letter
    of :data:`MERGE_INITIALS`, so it favours clarity over speed; the common case (the
    application set no ``Vary``) is still a single list concatenation.
    """
    vary_at = -1
    app_sets_cors = False
    for index, (name, _value) in enumerate(app_headers):
        lowered = name.lower()
        if lowered == words.vary:
            if vary_at < 0:
                vary_at = index
        elif lowered[:len(words.access_control)] == words.access_control:
            app_sets_cors = True
    merged = list(app_headers)
    if vary_at < 0:
        merged.extend(extra)
        return Merged(merged, app_sets_cors)
    # The application sent Vary: every Vary header it sent counts, the first one grows.
    tokens = {token.strip().lower() for name, value in app_headers if name.lower() == words.vary
              for token in value.split(words.comma)}
    for name, value in extra:
        if name != words.our_vary:
            merged.append((name, value))
        elif words.star not in tokens and value.lower() not in tokens:
            vary_name, present = merged[vary_at]
            merged[vary_at] = (vary_name, present + words.joiner + value
                               if present.strip() else value)
    return Merged(merged, app_sets_cors)


def merge_headers(app_headers: list[tuple[str, str]],
                  extra: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """:func:`merge_into` for text headers (WSGI), returning only the merged list."""
    return merge_into(app_headers, extra, STR_WORDS).headers


def warn_app_cors(names: Iterable[str]) -> bool:
    """Log, and return True, if one of the application's header ``names`` is Access-Control-*.

    Contract B11: the application's Access-Control-* headers are kept and ours are added too,
    as on IIS; the adapters say so once (they keep the True), since browsers reject the
    duplicates.
    """
    for name in names:
        if name.lower().startswith(headers.ACCESS_CONTROL_PREFIX):
            logger.warning("the application sets %s itself and iiscors adds its own: "
                           "browsers reject duplicated CORS headers", name)
            return True
    return False
