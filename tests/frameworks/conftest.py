"""Shared setup for the framework tests (issue 15).

Puts this directory on ``sys.path`` (for ``_project``) and, for the in-process Django
tests, the test project (``django_project``) with its settings module; Django is set up once,
on first use, by the ``django_project`` fixture.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PROJECT = HERE / "django_project"
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture(scope="session")
def django_project() -> Iterator[Path]:
    """Django set up in this process with the test project's settings."""
    django = pytest.importorskip("django")
    if str(PROJECT) not in sys.path:
        sys.path.insert(0, str(PROJECT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "corsite.settings"
    django.setup()
    yield PROJECT
