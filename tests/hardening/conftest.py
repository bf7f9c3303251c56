"""Shared setup for the hardening suite (issue 7).

Puts this directory on ``sys.path`` so the helper modules (``_payloads``, ``_strict``) import
the same way under every pytest import mode.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
