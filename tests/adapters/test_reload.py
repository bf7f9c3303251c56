"""Hot reload (contract A8): notice edits, swap atomically, keep the last good policy or answer
500 in strict mode; through both adapters.  See iiscors/reload.py."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import iiscors.reload as reload_module
from iiscors import ConfigError
from iiscors.reload import RACY_NS, is_racy

from support import ADAPTERS, ASGI, WSGI, Adapter, App, Req, replace_file, web_config

ORIGIN = ("Origin", "https://a.example")


def version(tag: str, origin: str = "https://a.example") -> bytes:
    """A config whose every response says which version produced it, twice: in the
    Expose-Headers of the rule and in a custom header (C1), so that a response mixing two
    versions would show."""
    return web_config(
        f'<cors enabled="true" failUnlistedOrigins="true"><add origin="{origin}">'
        f'<exposeHeaders><add header="X-{tag}"/></exposeHeaders></add></cors>'
        f'<httpProtocol><customHeaders><add name="X-Version" value="{tag}"/></customHeaders>'
        "</httpProtocol>")


BAD = b"<configuration><system.webServer><cors enabled='maybe'><add/></cors>"


def write(path: Path, data: bytes, *, atomic: bool = True) -> None:
    if atomic:
        replace_file(path, data)
    else:
        path.write_bytes(data)


def tag_of(adapter: Adapter, middleware: Any, spec: App) -> str | None:
    result = adapter.call(middleware, spec, Req(headers=(ORIGIN,)))
    if result.status == 500:
        return "500"
    values = result.get_all("X-Version")
    return values[0] if values else None


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "web.config"
    write(path, version("A"))
    return path


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_an_edit_is_served_at_the_next_check(adapter: Adapter, config_file: Path) -> None:
    middleware, spec = adapter.build(str(config_file), reload_interval=0)
    assert tag_of(adapter, middleware, spec) == "A"
    write(config_file, version("B"))
    assert tag_of(adapter, middleware, spec) == "B"
    assert middleware.config.files == (str(config_file),)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_an_edit_is_noticed_within_a_couple_of_seconds_by_default(
        adapter: Adapter, config_file: Path) -> None:
    middleware, spec = adapter.build(str(config_file))
    assert tag_of(adapter, middleware, spec) == "A"
    write(config_file, version("B"))
    start = time.monotonic()
    while tag_of(adapter, middleware, spec) != "B":
        assert time.monotonic() - start < 10, "the edit was never noticed"
        time.sleep(0.05)
    # The default interval is 1 s; the bound is generous on purpose (slow CI machines).
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_no_file_is_touched_between_checks(adapter: Adapter, config_file: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    stats: list[str] = []
    real = reload_module.stamp
    # only this file's stats: a reload thread of an earlier test's middleware, not yet
    # collected, may still be checking its own file meanwhile
    monkeypatch.setattr(reload_module, "stamp", lambda p: (
        stats.append(p) if p == str(config_file) else None) or real(p))
    old = time.time() - 3600  # not racy: a check only stats it (a racy one reads it too)
    os.utime(config_file, (old, old))
    middleware, spec = adapter.build(str(config_file), reload_interval=3600)
    stats.clear()  # the stat taken when the configuration was read
    for _ in range(200):
        tag_of(adapter, middleware, spec)
    assert stats == []
    middleware._next_check = 0.0  # make one check due: exactly one stat of the one file
    tag_of(adapter, middleware, spec)
    deadline = time.monotonic() + 10
    while not stats and time.monotonic() < deadline:  # the check runs on the reload thread
        time.sleep(0.01)
    assert stats == [str(config_file)]


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_bad_edit_keeps_the_last_good_policy_and_logs_each_diagnostic_once(
        adapter: Adapter, config_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    middleware, spec = adapter.build(str(config_file), reload_interval=0)
    good_policy = middleware.policy
    caplog.set_level(logging.INFO, logger="iiscors")
    write(config_file, BAD)
    for _ in range(5):
        assert tag_of(adapter, middleware, spec) == "A"
    assert middleware.policy is good_policy
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("unusable" in m and "last good" in m for m in errors)
    diagnostics = [m for m in errors if "E1" in m or "E2" in m]
    assert diagnostics, errors
    assert len(diagnostics) == len(set(diagnostics)), "a diagnostic was logged twice"
    # The bad file, edited again into another bad form: only the new diagnostics are logged.
    caplog.clear()
    write(config_file, web_config('<cors enabled="true"><add origin="x" bogus="1"/></cors>'))
    assert tag_of(adapter, middleware, spec) == "A"
    assert any("bogus" in r.getMessage() for r in caplog.records)
    # Fixed: the new version is served.
    write(config_file, version("C"))
    assert tag_of(adapter, middleware, spec) == "C"


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_strict_mode_answers_500_while_the_configuration_is_bad(
        adapter: Adapter, config_file: Path) -> None:
    middleware, spec = adapter.build(str(config_file), reload_interval=0, strict=True)
    assert tag_of(adapter, middleware, spec) == "A"
    write(config_file, BAD)
    calls = spec.calls
    for _ in range(3):
        result = adapter.call(middleware, spec, Req())  # even without Origin
        assert result.status == 500
        assert b"web.config" in result.body
        assert not result.cors()
    assert spec.calls == calls, "the application must not run while the config is unusable"
    assert isinstance(middleware.config_error, ConfigError)
    write(config_file, version("B"))
    assert tag_of(adapter, middleware, spec) == "B"
    assert middleware.config_error is None


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_bad_configuration_at_start_raises_even_in_strict_mode(
        adapter: Adapter, tmp_path: Path) -> None:
    path = tmp_path / "web.config"
    write(path, BAD)
    with pytest.raises(ConfigError):
        adapter.build(str(path), strict=True)


@pytest.mark.parametrize("strict", [False, True])
def test_a_deleted_file_is_unusable_and_its_return_is_noticed(config_file: Path,
                                                               strict: bool) -> None:
    middleware, spec = WSGI.build(str(config_file), reload_interval=0, strict=strict)
    config_file.unlink()
    assert tag_of(WSGI, middleware, spec) == ("500" if strict else "A")
    write(config_file, version("B"))
    assert tag_of(WSGI, middleware, spec) == "B"


def test_an_undone_edit_swaps_nothing(config_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    middleware, spec = WSGI.build(str(config_file), reload_interval=0)
    policy = middleware.policy
    write(config_file, BAD)
    tag_of(WSGI, middleware, spec)
    write(config_file, version("A"))
    caplog.set_level(logging.WARNING, logger="iiscors")
    assert tag_of(WSGI, middleware, spec) == "A"
    assert middleware.policy is policy
    assert any("usable again" in r.getMessage() for r in caplog.records)


def test_reload_off_never_looks(config_file: Path) -> None:
    middleware, spec = WSGI.build(str(config_file), reload=False, reload_interval=0)
    write(config_file, version("B"))
    assert tag_of(WSGI, middleware, spec) == "A"
    assert middleware.check_reload() is False


def test_bytes_and_multi_file_configs_are_not_watched(config_file: Path) -> None:
    middleware, _ = WSGI.build(version("A"))
    assert middleware.reload is False
    from iiscors import load_config
    given = load_config(str(config_file))
    middleware, _ = WSGI.build(given, reload_interval=0)
    assert middleware.config is given
    assert middleware.reload is True  # a Config read from one file is watched
    write(config_file, version("B"))
    assert middleware.check_reload() is True


def test_a_racy_snapshot_is_re_read_even_when_the_stats_are_equal(
        config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An in-place, same-size edit within one timestamp tick leaves the stat unchanged; the
    file was modified recently, so the next check reads it anyway."""
    middleware, spec = WSGI.build(str(config_file), reload_interval=0)
    frozen = middleware._snapshot
    write(config_file, version("B"), atomic=False)  # same size as version("A")
    monkeypatch.setattr(reload_module, "current", lambda snapshot: frozen)
    middleware._snapshot = frozen
    middleware._racy = True
    assert tag_of(WSGI, middleware, spec) == "B"


def test_is_racy() -> None:
    now = 10 * RACY_NS
    assert is_racy((("f", (now - 1, 0, 0, 0)),), now)
    assert not is_racy((("f", (now - RACY_NS - 1, 0, 0, 0)),), now)
    assert not is_racy((("f", None),), now)


def test_reload_interval_must_be_a_number_of_seconds(config_file: Path) -> None:
    with pytest.raises(ValueError, match="reload_interval"):
        WSGI.build(str(config_file), reload_interval=-1)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_site_root_sub_directory_files_appear_change_and_disappear(
        adapter: Adapter, tmp_path: Path) -> None:
    write(tmp_path / "web.config", version("root"))
    middleware, spec = adapter.build(str(tmp_path), reload_interval=0)
    api = Req(path="/api/x", headers=(ORIGIN,))
    assert adapter.call(middleware, spec, api).get_all("X-Version") == ["root"]
    (tmp_path / "api").mkdir()
    write(tmp_path / "api" / "web.config", web_config(
        '<httpProtocol><customHeaders><remove name="X-Version"/>'
        '<add name="X-Version" value="api"/></customHeaders></httpProtocol>'))
    assert adapter.call(middleware, spec, api).get_all("X-Version") == ["api"]
    nested = tmp_path / "api" / "v2"
    nested.mkdir()
    write(nested / "Web.config", web_config('<cors enabled="false"/>'))
    result = adapter.call(middleware, spec, Req(path="/api/v2/x", headers=(ORIGIN,)))
    assert result.get_all("Access-Control-Allow-Origin") == []
    write(tmp_path / "api" / "web.config", web_config(
        '<httpProtocol><customHeaders><clear/><add name="X-Version" value="api2"/>'
        "</customHeaders></httpProtocol>"))
    assert adapter.call(middleware, spec, api).get_all("X-Version") == ["api2"]
    (tmp_path / "api" / "web.config").unlink()
    assert adapter.call(middleware, spec, api).get_all("X-Version") == ["root"]


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_concurrent_requests_during_swaps_never_fail_nor_mix_versions(
        adapter: Adapter, config_file: Path) -> None:
    """Threads hammer the middleware while the file flips between two versions, in place and
    by rename, with unusable states in between: every response comes whole from one version."""
    middleware, spec = adapter.build(str(config_file), reload_interval=0)
    seen: dict[str, int] = {}
    problems: list[str] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                result = adapter.call(middleware, spec, Req(headers=(ORIGIN,)))
            except Exception as exc:
                problems.append(repr(exc))
                continue
            versions = result.get_all("X-Version")
            expose = result.get_all("Access-Control-Expose-Headers")
            if result.status != 200 or len(versions) != 1 or expose != [f"X-{versions[0]}"]:
                problems.append(f"{result.status} {result.headers}")
            else:
                seen[versions[0]] = seen.get(versions[0], 0) + 1

    threads = [threading.Thread(target=client) for _ in range(6)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 2.0
        flips = 0
        while time.monotonic() < deadline:
            flips += 1
            write(config_file, version("B" if flips % 2 else "A"), atomic=flips % 3 != 0)
            if flips % 5 == 0:
                write(config_file, BAD)
            time.sleep(0.005)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    assert not problems, problems[:5]
    assert seen.get("A", 0) > 0 and seen.get("B", 0) > 0, seen


def test_asgi_and_wsgi_share_one_reload_implementation() -> None:
    from iiscors.asgi import CorsMiddleware as AsgiCors
    from iiscors.wsgi import CorsMiddleware as WsgiCors
    assert reload_module.ReloadingPolicy in WsgiCors.__mro__
    assert reload_module.ReloadingPolicy in AsgiCors.__mro__
    assert ASGI.middleware is AsgiCors


def test_recovery_to_a_new_version_is_reported_as_loudly_as_the_failure(
        config_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    middleware, spec = WSGI.build(str(config_file), reload_interval=0)
    caplog.set_level(logging.WARNING, logger="iiscors")
    write(config_file, BAD)
    assert tag_of(WSGI, middleware, spec) == "A"
    assert any(r.levelno == logging.ERROR for r in caplog.records)
    caplog.clear()
    write(config_file, version("B"))
    assert tag_of(WSGI, middleware, spec) == "B"
    assert [r.getMessage() for r in caplog.records if "usable again" in r.getMessage()]
    caplog.clear()
    write(config_file, version("C"))  # a routine reload: information only
    assert tag_of(WSGI, middleware, spec) == "C"
    assert not [r for r in caplog.records if "reloaded" in r.getMessage()]
