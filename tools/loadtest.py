#!/usr/bin/env python
"""Load tests of iiscors on 127.0.0.1 (issues 7 and 12); the code is the ``loadtesting``
package beside this file (see its docstring), the fault injector the ``faults`` package.

1. By default: gunicorn (``gthread`` workers) serving a tiny app behind iiscors, under a mixed
   CORS load with a new origin on every request (allowed, preflights, unlisted, denied,
   malformed, no Origin).  Every response is checked; reports requests/s, p50/p99 latency,
   errors (must be 0) and each worker's RSS before/after the load (growth must stay under
   ``--max-rss-growth-mb``, default 5).
2. ``--faults``: the same load while the web.config goes through a bad edit, a truncation, a
   deletion, atomic flips and a restore (contract A8): every response must be one good
   version's whole answer, and each worker must log each bad state once.
3. ``--serve [root|proxy|both]``: ``iiscors serve --root DIR`` and ``iiscors serve CONFIG
   --proxy URL`` (in front of a backend the tool starts) under load: errors (must be 0) and the
   serving process's RSS after the warm-up vs at the end (growth must stay under
   ``--max-rss-growth-pct``, default 5).

Exit status 0 when every check holds, 1 otherwise, 2 on a usage or start-up problem.  Only
loopback traffic; every process started is stopped on exit.

Usage::

    python tools/loadtest.py                          # 60 s, 64 connections (issue 7's run)
    python tools/loadtest.py --duration 5 --connections 16 --json result.json
    python tools/loadtest.py --workers 2 --threads 16
    python tools/loadtest.py --faults --workers 2     # web.config rewritten under load
    python tools/loadtest.py --serve                  # serve --root, then --proxy: 60 s each
    python tools/loadtest.py --serve proxy --duration 10 --connections 8

The client shares the machine's CPUs with the server: throughput figures are for comparing runs
on one machine, not absolute.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The loadtesting and faults packages and _benchlib are siblings of this file, not installed.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadtesting.cli import main

if __name__ == "__main__":
    sys.exit(main())
