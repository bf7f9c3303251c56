"""What every iiscors layer shares beyond the policy: one layer per request, and crash answers.

**One layer per request.**  A request may meet several iiscors layers: ``wsgi.py`` wrapped *and*
the Django middleware in ``settings.MIDDLEWARE``, ``iiscors serve --app`` around an application
that already wraps itself, ``IISCors(app)`` called twice.  Each would add its headers, and
browsers reject a response with two ``Access-Control-Allow-Origin`` headers.  So the first layer
a request meets handles it and marks the request (:data:`HANDLED` in the WSGI environ or the ASGI
scope, holding that layer); every layer further in sees the mark, steps aside (passes the
request on untouched) and says so once (:func:`warn_nested`).  The first one, not the last:
only the outermost layer can answer a preflight before anything inside runs (contract B8) and
add its headers to every response produced inside it, error pages included (contract B9).

**Crash answers.**  An application that raises before it starts its response leaves the
server to send its own 500, which carries no CORS header: the browser then reports a CORS error
instead of the real failure.  The adapters' ``answer_crashes`` option answers such a crash with
a 500 carrying the decision's headers and logs the exception with its traceback here
(:func:`log_crash`); docs/behaviour.md ("An application's crash") says when, and why it is on
by default.

**One constructor.**  Both adapters take the same options and keep the same state;
:class:`Layer` holds their constructor, so that an option is added in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Generic, TypeVar

from iiscors.config.load import Config
from iiscors.config.loader import DEFAULT_MAX_BYTES, Source
from iiscors.config.server import ApplicationHost
from iiscors.reload import DEFAULT_RELOAD_INTERVAL, ReloadingPolicy

logger = logging.getLogger("iiscors")

#: The WSGI environ / ASGI scope key set by the first iiscors layer a request meets; its value
#: is that layer.  A layer that finds it already set steps aside.
HANDLED = "iiscors.handled"

#: Set in the environ by Werkzeug's debugger (``DebuggedApplication``, which ``flask run
#: --debug`` uses) and by Flask's test client while it keeps contexts: something outside wants
#: to see the application's exception itself, so a crash is not answered (docs/behaviour.md).
DEBUGGER = "werkzeug.debug.preserve_context"

#: The status line and body of a crash answer (the details go to the log, never to the
#: client).
CRASH_STATUS = "500 Internal Server Error"
CRASH_BODY = b"500 Internal Server Error: the application failed; see the server log.\n"


#: the application a layer wraps (WSGI or ASGI)
App = TypeVar("App")


class Layer(ReloadingPolicy, Generic[App]):
    """The constructor both adapters share (their classes document the options)."""

    def __init__(self, app: App, config: Source | Config | ApplicationHost, *,
                 max_bytes: int = DEFAULT_MAX_BYTES, exempt_same_origin: bool = False,
                 reload: bool = True, reload_interval: float = DEFAULT_RELOAD_INTERVAL,
                 strict: bool = False, answer_crashes: bool = True,
                 all_or_nothing: bool = False, applications: Iterable[str] = ()) -> None:
        self.app = app
        #: ``config`` and ``policy`` are replaced, never modified, by a reload; a request reads
        #: ``policy`` once, so the swap is atomic for every request (contract A8)
        self._init_policy(config, max_bytes=max_bytes, exempt_same_origin=exempt_same_origin,
                          reload=reload, reload_interval=reload_interval, strict=strict,
                          all_or_nothing=all_or_nothing, applications=applications)
        self.answer_crashes = answer_crashes
        self._warned_duplicate = False
        self._warned_nested = False


def describe(layer: object) -> str:
    """How a layer is named in log messages: its class and the configuration it reads."""
    source = getattr(getattr(layer, "source", None), "description", "?")
    kind = type(layer)
    return f"{kind.__module__}.{kind.__qualname__} ({source})"


def warn_nested(inner: object, outer: object) -> None:
    """Say (once per inner layer: the caller keeps that it did) that ``inner`` stepped aside
    for ``outer``, the layer the request met first."""
    logger.warning("iiscors: a request reached %s after %s; the first iiscors layer a request "
                   "meets handles its CORS, so this one steps aside (headers are never added "
                   "twice). Remove one of the two.", describe(inner), describe(outer))


def log_crash(layer: object) -> None:
    """Log the exception being handled, with its traceback (call it inside ``except``)."""
    logger.error("iiscors: the application raised before starting its response; %s answered "
                 "500 with the CORS headers", describe(layer), exc_info=True)
