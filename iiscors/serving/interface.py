"""Is an application WSGI or ASGI?  ``iiscors serve --app`` asks before choosing a server.

A WSGI application is called as ``app(environ, start_response)`` and returns the body; an
ASGI 3 application is a coroutine function ``app(scope, receive, send)``.  Given to a WSGI
server, an ASGI application answers every request with 500 (its call returns a coroutine, not
a body), so it has to be recognised before serving, from the callable alone:

- a coroutine function (``async def``), seen through :class:`functools.partial`;
- an object whose ``__call__`` is one: Starlette, FastAPI, Django's ``ASGIHandler``.

Either must accept ``(scope, receive, send)``.  Other async callables are refused: an ASGI 2
application (a class built from the scope, whose instances are awaited with receive and send)
and async callables with other arguments are not something iiscors can serve.  A synchronous
callable is taken as WSGI, as every WSGI server does.
"""

from __future__ import annotations

import functools
import inspect


def _unwrapped(app: object) -> object:
    while isinstance(app, functools.partial):
        app = app.func
    return app


def _call_method(app: object) -> object:
    """What calling ``app`` runs: its ``__call__`` (for a class, the instances' one)."""
    return getattr(app, "__call__", None)  # noqa: B004  (the method itself, not callable())


def _is_async(app: object) -> bool:
    """A coroutine function, or an object whose ``__call__`` is one (partials unwrapped)."""
    if inspect.iscoroutinefunction(app):  # sees through partials of a function
        return True
    target = _unwrapped(app)
    if inspect.isclass(target) or inspect.isroutine(target):
        return False  # calling a class builds an instance; a plain function was checked above
    return inspect.iscoroutinefunction(_call_method(target))


def _takes_three(app: object) -> bool:
    try:
        inspect.signature(app).bind(None, None, None)  # type: ignore[arg-type]
    except TypeError:
        return False
    except ValueError:
        return True  # no signature to read (a builtin): give it the benefit of the doubt
    return True


def is_asgi_app(app: object) -> bool:
    """True for an ASGI 3 application, False for anything a WSGI server may call.

    :raises ValueError: an async callable that is not an ASGI 3 application.
    """
    target = _unwrapped(app)
    if inspect.isclass(target) and inspect.iscoroutinefunction(_call_method(target)):
        raise ValueError("an ASGI 2 application (a class whose instances are awaited): "
                         "iiscors serves ASGI 3 applications, called as "
                         "app(scope, receive, send)")
    if not _is_async(app):
        return False
    if not _takes_three(app):
        raise ValueError("an async callable that does not take (scope, receive, send): "
                         "neither a WSGI nor an ASGI 3 application")
    return True
