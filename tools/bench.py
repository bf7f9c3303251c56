#!/usr/bin/env python
"""In-process benchmark of iiscors against a bare app, a dict-lookup floor and the Python peers.

Issue 6.  The benchmark itself is the ``benchmark`` package beside this file (candidates,
timing, targets, report: see its docstring); this is its entry point.

Usage::

    python tools/bench.py                 # full run, table on stdout (a few minutes)
    python tools/bench.py --quick         # small rounds, CI smoke
    python tools/bench.py --json out.json # also write every figure as JSON ("-" for stdout)
    python tools/bench.py --check         # exit 1 when a target of issue 6 is missed

Peers (flask, flask-cors, starlette) are optional: a missing one is skipped with a note.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The benchmark package and _benchlib are siblings of this file, not installed.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmark.cli import main

if __name__ == "__main__":
    sys.exit(main())
