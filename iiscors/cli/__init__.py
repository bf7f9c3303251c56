"""The command line and its reporters: ``validate``, ``explain`` and the lazy ``serve`` and
``playground`` commands (which live in :mod:`iiscors.serving`)."""

from __future__ import annotations

from iiscors.cli.main import main

__all__ = ["main"]
