"""Site roots (iiscors/config/site.py): every sub-directory's web.config, with its prefix
(contract A9), found by a bounded walk that follows symlinks only inside the root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from iiscors import ConfigError
from iiscors.config.rules import fold_segment
from iiscors.config.site import analyse_site, load_site, scan_site

from support import WSGI, Req, call, web_config

ALLOW_A = web_config('<cors enabled="true" failUnlistedOrigins="true">'
                     '<add origin="https://a.example"/></cors>')


def tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def prefixes(root: Path) -> list[tuple[tuple[str, ...], str]]:
    scan = scan_site(root)
    assert not scan.diagnostics, scan.diagnostics
    return [(f.prefix, os.path.relpath(os.fspath(f.source), root)) for f in scan.files]


def test_every_sub_directory_file_with_its_prefix_root_first(tmp_path: Path) -> None:
    tree(tmp_path, {"web.config": ALLOW_A, "Api/web.config": ALLOW_A,
                    "Api/V2/Web.config": ALLOW_A, "static/x.txt": b"",
                    "b/c/WEB.CONFIG": ALLOW_A})
    found = prefixes(tmp_path)
    assert found[0] == ((), "web.config")
    assert sorted(found[1:]) == [(("api",), "Api/web.config"),
                                 (("api", "v2"), "Api/V2/Web.config"),
                                 (("b", "c"), "b/c/WEB.CONFIG")]


def test_non_ascii_directories_match_case_insensitively(tmp_path: Path) -> None:
    tree(tmp_path, {"Café/web.config": ALLOW_A})
    assert prefixes(tmp_path) == [((fold_segment("Café"),), "Café/web.config")]
    assert fold_segment("Café") == "café"
    middleware, spec = WSGI.build(str(tmp_path))
    # PATH_INFO carries the UTF-8 bytes as latin-1 characters, as every WSGI server does;
    # case is folded on the decoded text, so É matches é (contract A9, as IIS compares URLs).
    for path_info in ("/caf\xc3\xa9/x", "/CAF\xc3\x89/x"):
        inside = call(middleware, headers={"Origin": "https://a.example"}, path_info=path_info)
        assert inside.get_all("Access-Control-Allow-Origin") == ["https://a.example"], path_info
    outside = WSGI.call(middleware, spec, Req(path="/x",
                                              headers=(("Origin", "https://a.example"),)))
    assert outside.get_all("Access-Control-Allow-Origin") == []


def test_a_directory_name_that_is_not_utf_8_is_handled(tmp_path: Path) -> None:
    """A byte name (undecodable) neither crashes the walk nor matches a real character."""
    import os

    tree(tmp_path, {"web.config": ALLOW_A})
    os.mkdir(os.fsencode(tmp_path) + b"/bad\xffdir")
    (tmp_path / os.fsdecode(b"bad\xffdir") / "web.config").write_bytes(
        ALLOW_A.replace(b"https://a.example", b"https://b.example"))
    middleware, _ = WSGI.build(str(tmp_path))
    # PATH_INFO for /bad%FFdir: the raw byte as a latin-1 character, as WSGI servers give it.
    origin = {"Origin": "https://b.example"}
    inside = call(middleware, headers=origin, path_info="/bad\xffdir/x")
    assert inside.get_all("Access-Control-Allow-Origin") == ["https://b.example"]
    outside = call(middleware, headers=origin, path_info="/bad\xc3\xbfdir/x")
    assert outside.get_all("Access-Control-Allow-Origin") == []


def test_sub_directory_files_merge_as_iis_does(tmp_path: Path) -> None:
    """Contract A9: attributes override, collections append, <clear/> and <remove> apply."""
    tree(tmp_path, {
        "web.config": ALLOW_A,
        "open/web.config": web_config('<cors failUnlistedOrigins="false">'
                                      '<add origin="https://b.example"/></cors>'),
        "only-c/web.config": web_config('<cors><clear/><add origin="https://c.example"/></cors>'),
        "no-a/web.config": web_config('<cors><remove origin="HTTPS://A.EXAMPLE"/></cors>'),
        "off/web.config": web_config('<modules><remove name="CorsModule"/></modules>'),
    })
    middleware, spec = WSGI.build(str(tmp_path))

    def status(path: str, origin: str) -> tuple[int, list[str]]:
        result = WSGI.call(middleware, spec, Req(path=path, headers=(("Origin", origin),)))
        return result.status, result.get_all("Access-Control-Allow-Origin")

    assert status("/x", "https://b.example") == (403, [])
    assert status("/open/x", "https://b.example") == (200, ["https://b.example"])
    assert status("/open/x", "https://a.example") == (200, ["https://a.example"])
    assert status("/open/x", "https://z.example") == (200, [])  # failUnlisted overridden
    assert status("/only-c/x", "https://a.example") == (403, [])
    assert status("/only-c/x", "https://c.example") == (200, ["https://c.example"])
    assert status("/no-a/x", "https://a.example") == (403, [])
    assert status("/OFF/x", "https://z.example") == (200, [])  # contract D1


def test_a_duplicate_across_files_is_an_error_with_both_files_named(tmp_path: Path) -> None:
    tree(tmp_path, {"web.config": ALLOW_A, "api/web.config": ALLOW_A})
    with pytest.raises(ConfigError) as raised:
        load_site(tmp_path)
    assert any(d.code == "E302" and "api" in d.file for d in raised.value.errors)


def test_errors_in_several_files_are_all_reported(tmp_path: Path) -> None:
    tree(tmp_path, {"web.config": b"<configuration><oops></configuration>",
                    "api/web.config": web_config('<cors enabled="yes"/>')})
    config, diagnostics, _ = analyse_site(tmp_path)
    assert config is None
    assert {d.code for d in diagnostics if d.is_error} >= {"E102", "E206"}


def test_a_site_without_any_web_config_is_usable_and_inactive(tmp_path: Path) -> None:
    tree(tmp_path, {"index.html": b"hi"})
    config = load_site(tmp_path)
    assert config.files == ()
    assert not config.section_for("/").active


def test_a_missing_root_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_site(tmp_path / "nope")
    assert raised.value.errors[0].code == "E100"


def test_names_differing_only_in_case_are_an_error(tmp_path: Path) -> None:
    tree(tmp_path, {"web.config": ALLOW_A, "Web.config": ALLOW_A})
    if len(os.listdir(tmp_path)) < 2:
        pytest.skip("case-insensitive file system")
    with pytest.raises(ConfigError, match="differ only in case"):
        load_site(tmp_path)


def test_the_walk_is_bounded_in_breadth_and_depth(tmp_path: Path) -> None:
    for index in range(12):
        (tmp_path / f"d{index}").mkdir()
    with pytest.raises(ConfigError, match="more than 10 directories"):
        load_site(tmp_path, max_directories=10)
    load_site(tmp_path, max_directories=13)
    deep = tmp_path / "deep"
    deep.joinpath(*["x"] * 6).mkdir(parents=True)
    with pytest.raises(ConfigError, match="deeper than 4 levels"):
        load_site(tmp_path, max_depth=4)
    load_site(tmp_path, max_depth=7)


def test_symlinks_inside_the_root_are_followed_and_cycles_are_not(tmp_path: Path) -> None:
    tree(tmp_path, {"real/web.config": ALLOW_A})
    os.symlink(tmp_path / "real", tmp_path / "alias")
    os.symlink(tmp_path, tmp_path / "real" / "loop")  # back to an ancestor
    found = prefixes(tmp_path)
    assert sorted(found) == [(("alias",), "alias/web.config"), (("real",), "real/web.config")]


def test_symlinks_out_of_the_root_are_ignored(tmp_path: Path) -> None:
    site, outside = tmp_path / "site", tmp_path / "outside"
    tree(outside, {"web.config": ALLOW_A, "sub/web.config": ALLOW_A})
    site.mkdir()
    os.symlink(outside / "sub", site / "linked-dir")
    os.symlink(outside / "web.config", site / "web.config")
    assert prefixes(site) == []


def test_the_scan_stamps_every_directory_and_file(tmp_path: Path) -> None:
    tree(tmp_path, {"web.config": ALLOW_A, "a/b/web.config": ALLOW_A})
    scan = scan_site(tmp_path)
    stamped = {os.path.relpath(path, tmp_path) for path, _ in scan.stamps}
    assert stamped == {".", "web.config", "a", "a/b", "a/b/web.config"}
    assert all(value is not None for _, value in scan.stamps)
