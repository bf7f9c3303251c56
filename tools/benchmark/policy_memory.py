"""What the compiled policy alone keeps per configured origin (issue 17).

:func:`benchmark.costs.measure_load` measures everything a loaded configuration keeps (the
configuration's objects and the policy); this measures the :class:`~iiscors.policy.core.Policy`
built from loaded scopes on its own, by tracemalloc after ``gc.collect()``: the part the
policy room owns, which should be one dict entry per origin (its values shared, its keys the
rules' own strings).
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from typing import Any

from _benchlib import LOAD_SHAPES

#: Configured origins of the measurement.
POLICY_ORIGINS = 100_000


def policy_bytes(policy_class: Callable[..., Any], scopes: Any, origins: int) -> float:
    """Bytes ``policy_class(scopes)`` keeps per configured origin (tracemalloc, after
    ``gc.collect()``); ab.py passes each version's Policy class."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        policy = policy_class(scopes)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    del policy
    return held / origins


def measure_policy_memory(origins: int = POLICY_ORIGINS) -> list[dict[str, Any]]:
    """``{scenario, origins, policy_bytes_per_origin}`` for each rule shape of LOAD_SHAPES."""
    from iiscors import load_config
    from iiscors.policy.core import Policy

    out = []
    for shape, webconfig in LOAD_SHAPES.items():
        scopes = load_config(webconfig(origins), max_bytes=10**9).scopes
        out.append({"scenario": f"{shape}-{origins}", "origins": origins,
                    "policy_bytes_per_origin": policy_bytes(Policy, scopes, origins)})
    return out
