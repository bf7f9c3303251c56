"""The servers ``iiscors serve`` runs a WSGI application on: waitress (the default) with a
graceful stop, or Werkzeug's development server (``--dev``).

Why waitress: it is a production WSGI server in pure Python that runs the same on Windows and
Linux (as IIS teams do), with no C extension to build and no fork (docs/serving.md).

A graceful stop, on SIGTERM or SIGINT (Ctrl+C), and SIGBREAK on Windows: stop listening at
once (new connections are refused), let the requests in flight finish and their responses
reach the clients, close idle keep-alive connections, then exit.  The wait is bounded by
``graceful_timeout``; what is still running then is cut off.  A second signal cuts them off at
once.  waitress has no such stop of its own (its ``serve()`` drops in-flight responses on
Ctrl+C), so :class:`GracefulWaitress` drives waitress's loop itself (``create_server`` with its
own socket map, ``wasyncore.loop``) and reads three attributes of waitress's channels to know
what is in flight: ``request`` (being received), ``requests`` (queued or being served) and
``total_outbufs_len`` (response bytes not yet sent).  ``tests/serving/test_production_server.py``
checks the stop against the waitress installed.
"""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from iiscors.wsgi import WSGIApplication

#: Signals that ask for a graceful stop (SIGBREAK is Ctrl+Break on Windows).
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGBREAK")
                     if hasattr(signal, name))
DEFAULT_THREADS = 4  # waitress's own default
DEFAULT_GRACEFUL_TIMEOUT = 30.0
#: How long one turn of the loop may block: a signal's flag is also seen within this.
_POLL_SECONDS = 1.0
_DRAIN_POLL_SECONDS = 0.05


class Stop:
    """What the stop signals asked for: :attr:`count` signals so far (1: stop gracefully,
    2 or more: stop now).  ``wake`` interrupts the server's wait for network events."""

    def __init__(self) -> None:
        self.count = 0
        self.wake: Callable[[], None] = lambda: None

    def __call__(self, signum: int, frame: object) -> None:
        self.count += 1
        self.wake()


@contextmanager
def stop_signals(stop: Stop) -> Iterator[None]:
    """Route the stop signals to ``stop`` for the duration, then restore the handlers."""
    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (port 0: a free one), not yet listening.  IPv6 when
    the host is an IPv6 address, as Werkzeug decides it.

    :raises OSError: the address cannot be used (in use, not local, bad name).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if hasattr(socket, "SO_REUSEADDR") and not hasattr(socket, "SO_EXCLUSIVEADDRUSE"):
            # POSIX only: lets a restarted server bind while old connections are in TIME_WAIT
            # (on Windows the same option would let two servers share the port).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


class GracefulWaitress:
    """waitress serving ``app`` on ``sock``, until a stop signal, then stopping gracefully.

    :param app: the WSGI application.
    :param sock: a bound socket (see :func:`bind`); waitress listens on it.
    :param threads: waitress's worker threads (requests served at once).
    """

    def __init__(self, app: WSGIApplication, sock: socket.socket, *, threads: int) -> None:
        from waitress.server import create_server

        self.map: dict[int, Any] = {}  # waitress's socket map: the listener and every channel
        # No trusted proxy: waitress removes the X-Forwarded-* and Forwarded headers clients
        # send (its default, spelled out), so that nothing below trusts a client's claim.
        self.server = create_server(app, map=self.map, sockets=[sock], threads=threads,
                                    clear_untrusted_proxy_headers=True)
        self.port: int = sock.getsockname()[1]
        self._stopping_signals = 1

    def serve(self, stop: Stop) -> None:
        """Serve until ``stop`` has seen a signal."""
        from waitress import wasyncore

        stop.wake = self.server.pull_trigger  # a write to waitress's wake-up pipe
        while not stop.count:
            wasyncore.loop(timeout=_POLL_SECONDS, use_poll=True, map=self.map, count=1)
        # The signals that stopped serving: any later one, even one that arrives before drain()
        # starts (while "stopping" is printed), means "stop now".
        self._stopping_signals = stop.count

    def stop_listening(self) -> None:
        """Close the listening socket: new connections are refused from now on."""
        from waitress import wasyncore

        wasyncore.dispatcher.close(self.server)  # the listener only, not the connections

    def drain(self, stop: Stop, timeout: float) -> int:
        """Finish what is in flight (at most ``timeout`` seconds, or until another signal),
        then close everything; the number of requests cut off."""
        from waitress import wasyncore

        deadline = time.monotonic() + timeout
        signals = self._stopping_signals
        busy = self._close_idle()
        while busy and time.monotonic() < deadline and stop.count == signals:
            wasyncore.loop(timeout=_DRAIN_POLL_SECONDS, use_poll=True, map=self.map, count=1)
            busy = self._close_idle()
        self.server.task_dispatcher.shutdown(cancel_pending=True, timeout=0.5 if busy else 5)
        wasyncore.close_all(self.map)
        return busy

    def in_flight(self) -> int:
        return sum(1 for channel in self._channels() if _busy(channel))

    def _channels(self) -> list[Any]:
        from waitress.channel import HTTPChannel

        return [obj for obj in list(self.map.values()) if isinstance(obj, HTTPChannel)]

    def _close_idle(self) -> int:
        """Close the connections with nothing in flight; the number of the others."""
        busy = 0
        for channel in self._channels():
            if _busy(channel):
                busy += 1
            else:
                channel.handle_close()
        return busy


def _busy(channel: Any) -> bool:
    """A request being received, queued or served, or a response not yet sent."""
    return bool(channel.request is not None or channel.requests or channel.total_outbufs_len)


def serve_dev(app: WSGIApplication, host: str, port: int,
              on_ready: Callable[[int], None]) -> None:
    """Werkzeug's development server (threaded, no code reloader) until a stop signal.

    It prints nothing per request (the access log does) and stops at once: what is in flight
    is cut off.
    """
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass  # the access log says more

    server = make_server(host, port, app, threaded=True, request_handler=QuietHandler)
    stop = Stop()

    def interrupt(signum: int, frame: object) -> None:
        stop(signum, frame)
        raise KeyboardInterrupt  # leaves serve_forever at once

    previous = {sig: signal.signal(sig, interrupt) for sig in STOP_SIGNALS}
    try:
        on_ready(server.server_port)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.server_close()
