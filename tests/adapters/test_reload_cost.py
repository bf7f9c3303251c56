"""What a reload check costs a site tree (issue 17, docs/serving.md "Cost"): one ``stat`` per
watched path (each directory and each web.config of the tree), no read and no rebuild while
nothing changed: O(watched files) per interval, on the reload thread."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

import iiscors.reload as reload_module
from iiscors import CorsMiddleware


def config(origin: str) -> bytes:
    return (f'<configuration><system.webServer><cors enabled="true"><add origin="{origin}"/>'
            "</cors></system.webServer></configuration>").encode()


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [])
    return [b""]


def site(root: Path, directories: int) -> None:
    """``directories`` sub-directories, every third with its own web.config; all old (not
    racy, so that a check only stats)."""
    (root / "web.config").write_bytes(config("https://a.example"))
    for i in range(directories):
        sub = root / f"d{i:03d}"
        sub.mkdir()
        if i % 3 == 0:
            (sub / "web.config").write_bytes(config(f"https://d{i}.example"))
    old = time.time() - 3600
    for path in (root, *root.rglob("*")):
        os.utime(path, (old, old))


def test_a_check_of_an_unchanged_tree_stats_each_watched_path_once_and_reads_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site(tmp_path, 300)
    middleware = CorsMiddleware(app, str(tmp_path), reload_interval=3600)
    assert not middleware.config.errors
    watched = {str(path) for path in middleware.watched}
    assert str(tmp_path / "d299") in watched and str(tmp_path / "d000" / "web.config") in watched
    assert len(watched) >= 300 + 100
    stats: list[str] = []
    real = reload_module.stamp
    monkeypatch.setattr(reload_module, "stamp", lambda p: stats.append(p) or real(p))
    reads: list[str] = []
    monkeypatch.setattr(reload_module, "content_token",
                        lambda p, limit: reads.append(p))  # type: ignore[func-returns-value]
    monkeypatch.setattr(middleware.source, "build", lambda: pytest.fail("rebuilt"))
    assert middleware.check_reload() is False
    assert sorted(stats) == sorted(watched)  # each once, nothing else
    assert reads == []
