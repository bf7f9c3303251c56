"""The load generator: an asyncio client speaking raw HTTP/1.1 over keep-alive connections to
127.0.0.1, every response checked by the request mix.  Any wrong answer, timeout or connection
error counts as an error."""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from loadtesting.mix import RequestMix, Response

#: Seconds a response may take before it counts as an error.
RESPONSE_TIMEOUT = 10.0
#: Error messages kept as samples (the count goes on).
KEPT_SAMPLES = 10


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    samples: list[str] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)

    def error(self, message: str) -> None:
        self.errors += 1
        if len(self.samples) < KEPT_SAMPLES:
            self.samples.append(message)

    def absorb_errors(self, other: Stats) -> None:
        """Count ``other``'s errors too (a warm-up's: its latencies are not figures)."""
        self.errors += other.errors
        self.samples.extend(other.samples[:5])

    def p50_ms(self) -> float:
        return statistics.median(self.latencies) * 1e3 if self.latencies else 0.0

    def p99_ms(self) -> float:
        lat = sorted(self.latencies)
        return lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e3 if lat else 0.0


async def read_response(reader: asyncio.StreamReader) -> Response:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip().lower(), value.strip()))
    values = dict(headers)
    keep = values.get("connection", "").lower() != "close"
    if "content-length" in values:
        body = await reader.readexactly(int(values["content-length"]))
    elif values.get("transfer-encoding", "").lower() == "chunked":
        body = await _read_chunked(reader)
    elif status not in (204, 304):
        body = await reader.read()
        keep = False
    else:
        body = b""
    return Response(status, headers, body, keep)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        chunks.append((await reader.readexactly(size + 2))[:-2])
        if size == 0:
            return b"".join(chunks)


class Connection:
    """One keep-alive connection of the load, reopened whenever the server closes it."""

    def __init__(self, port: int, mix: RequestMix, stats: Stats) -> None:
        self.port = port
        self.mix = mix
        self.stats = stats
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def run(self, stop_at: float, counter: Iterator[int]) -> None:
        while time.monotonic() < stop_at and not self.mix.finished():
            if self.writer is None and not await self._open():
                continue
            await self._exchange(next(counter))
        self._close()

    async def _open(self) -> bool:
        try:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError as exc:
            self.stats.error(f"connect: {exc}")
            await asyncio.sleep(0.05)
            return False
        return True

    def _close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def _exchange(self, n: int) -> None:
        assert self.reader is not None and self.writer is not None
        planned = self.mix.plan(n)
        started = time.monotonic()
        start = time.perf_counter()
        try:
            self.writer.write(planned.head + planned.request_body)
            await self.writer.drain()
            response = await asyncio.wait_for(read_response(self.reader), RESPONSE_TIMEOUT)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            self.stats.error(f"{planned.kind}: {type(exc).__name__}: {exc}")
            self._close()
            return
        self.stats.latencies.append(time.perf_counter() - start)
        self.stats.by_kind[planned.kind] = self.stats.by_kind.get(planned.kind, 0) + 1
        problem = self.mix.check(n, planned, started, response)
        if problem:
            self.stats.error(problem)
        if not response.keep_alive:
            self._close()


async def load(
    port: int,
    seconds: float,
    connections: int,
    mix: RequestMix,
    counter: Iterator[int] | None = None,
) -> Stats:
    """Load for ``seconds`` over ``connections`` (or until ``mix.finished()``).  ``counter``
    numbers the requests; pass the same one to a warm-up and the run after it so that no
    request (and no origin) repeats."""
    stats = Stats()
    stop_at = time.monotonic() + seconds
    numbers = counter if counter is not None else itertools.count()
    await asyncio.gather(
        *(Connection(port, mix, stats).run(stop_at, numbers) for _ in range(connections))
    )
    return stats
