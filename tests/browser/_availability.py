"""Whether the browser suite may run here: skip on a developer machine, fail in CI.

CI installs ``chromium`` with apt, so a missing browser there is a broken install step; a
skipped suite would let CI pass without a browser ever having judged the middleware.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import pytest


def in_ci(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def require_chromium(executable: str | None, ci: bool) -> str:
    """Return ``executable``, or skip (developer machine) / fail (CI) when it is None."""
    if executable is None:
        message = (
            "no Chromium binary found (looked for IISCORS_CHROMIUM, chromium, "
            "chromium-browser, google-chrome); install it with `apt-get install chromium`"
        )
        if ci:
            pytest.fail(f"CI=true but {message}: the browser suite must run in CI", pytrace=False)
        pytest.skip(message)
    return executable
