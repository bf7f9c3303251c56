"""The Django test project of the framework tests (``django_project/``), copied per test so
that a test may edit its web.config.  Servers are started with ``support.running``."""

from __future__ import annotations

import shutil
from pathlib import Path

PROJECT = Path(__file__).resolve().parent / "django_project"


def copy_project(into: Path) -> Path:
    """A copy of the Django test project (its web.config may then be edited)."""
    target = into / "django_project"
    shutil.copytree(PROJECT, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target
