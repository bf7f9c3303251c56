"""The figures of the benchmark: one :class:`Cell` per configuration, request and candidate,
one :class:`Flat` per configuration in the flatness experiments, and their summary."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

#: An added time measured below this is treated as this, so that a ratio never divides by a
#: noise-level (or negative) difference.
ADDED_FLOOR_US = 0.05


@dataclass
class Cell:
    scenario: str
    request: str
    candidate: str
    baseline: str | None
    verified: bool
    problems: list[str] = field(default_factory=list)
    calls_per_sample: int = 0
    samples_us: list[float] = field(default_factory=list)
    median_us: float = 0.0
    min_us: float = 0.0
    max_us: float = 0.0
    ratio: float | None = None
    added_us: float | None = None
    added_min_us: float | None = None


def summarise(row: dict[str, Cell]) -> None:
    """Median, spread, ratio and paired added time of every timed cell of one row."""
    for cell in row.values():
        if not cell.samples_us:
            continue
        cell.median_us = statistics.median(cell.samples_us)
        cell.min_us, cell.max_us = min(cell.samples_us), max(cell.samples_us)
        base = row.get(cell.baseline) if cell.baseline else None
        if base is not None and base.samples_us:
            cell.ratio = cell.median_us / base.median_us
            diffs = [a - b for a, b in zip(cell.samples_us, base.samples_us, strict=True)]
            cell.added_us = statistics.median(diffs)
            cell.added_min_us = cell.min_us - base.min_us


@dataclass
class Flat:
    """One configuration's allowed request, timed in the same rounds as its reference's."""

    scenario: str
    request: str
    median_us: float
    #: median over rounds of (this configuration's sample / the reference's in that round) - 1
    growth: float
    reference: str = "exact-1"


def flats_against(
    samples: dict[str, list[float]], reference: str, request: str
) -> list[Flat]:
    """One :class:`Flat` per configuration of ``samples``, against ``reference``'s samples of
    the same rounds."""
    ref = samples[reference]
    return [
        Flat(name, request, statistics.median(values),
             statistics.median(v / b - 1 for v, b in zip(values, ref, strict=True)), reference)
        for name, values in samples.items()
    ]
