"""``iiscors diff`` of two 10,000-origin sites (issue 16: under 2 s on the project's machine).

:func:`write_sites` builds the sites that docs/performance.md measures; the test runs the
realistic pull request through the command in-process and bounds its CPU time loosely (three
times the figure recorded), so that a change that makes the diff scale with the size of the
files rather than with the change fails here.  Run as a script to print the figures::

    python tests/cli/test_diff_performance.py
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from iiscors.cli.main import main

ORIGINS = 10_000
#: A 10,000-origin web.config is about 530 KB, above IIS's default 250 KiB limit.
MAX_BYTES = "1048576"
CREDENTIALS = ' allowCredentials="true"'


def _site(root: Path, origins: list[str], credentials: set[str], *, enabled: str = "true",
          sub: str = "") -> None:
    shutil.rmtree(root, ignore_errors=True)
    (root / "api").mkdir(parents=True)
    rules = "\n".join(f'      <add origin="{o}"{CREDENTIALS if o in credentials else ""}/>'
                      for o in origins)
    (root / "web.config").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n  <system.webServer>\n'
        f'    <cors enabled="{enabled}" failUnlistedOrigins="true">\n{rules}\n    </cors>\n'
        "  </system.webServer>\n</configuration>\n", encoding="utf-8")
    (root / "api" / "web.config").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n  <system.webServer>\n'
        f'    <cors>\n      <add origin="https://partner.example"/>\n{sub}\n    </cors>\n'
        "  </system.webServer>\n</configuration>\n", encoding="utf-8")


def write_sites(directory: Path) -> dict[str, Path]:
    """``old``: 9,990 exact origins and 10 host wildcards (every seventh with credentials) at
    the root, one more origin in ``api/``.  ``new``: a pull request (5 origins removed, 5
    added, one replaced by ``https://*.example.com``, credentials for one more, a wildcard with
    credentials in ``api/``).  ``disabled``: ``enabled="false"`` (every origin changes).
    ``disjoint``: 10,000 other origins (10,000 removed, 10,000 added)."""
    base = [f"https://app{i}.example.com" for i in range(ORIGINS - 10)]
    base += [f"https://*.tenant{i}.example.net" for i in range(10)]
    credentials = set(base[::7])
    new = base[5:] + [f"https://new{i}.example.com" for i in range(5)]
    new[100] = "https://*.example.com"
    other = [f"https://other{i}.example.org" for i in range(ORIGINS)]
    _site(directory / "old", base, credentials)
    _site(directory / "new", new, credentials | {base[50]},
          sub=f'      <add origin="https://*.partners.example"{CREDENTIALS}/>')
    _site(directory / "disabled", base, credentials, enabled="false")
    _site(directory / "disjoint", other, set(other[::7]))
    return {name: directory / name for name in ("old", "new", "disabled", "disjoint")}


def measure(old: Path, new: Path) -> tuple[float, float, dict[str, int]]:
    """(wall s, CPU s, summary) of one in-process ``iiscors diff OLD NEW --format json``."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = CliRunner().invoke(main, ["diff", str(old), str(new), "--max-bytes", MAX_BYTES,
                                       "--format", "json"])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert result.exit_code == 0, result.output
    return wall, cpu, json.loads(result.stdout)["summary"]


def test_a_pull_request_on_two_ten_thousand_origin_sites(tmp_path: Path) -> None:
    sites = write_sites(tmp_path)
    _, cpu, summary = measure(sites["old"], sites["new"])
    assert summary == {"changes": 10, "widens": 8, "narrows": 2, "neutral": 0,
                       "credentials": 2, "failing": 0}
    assert cpu < 3.0, f"diff of two 10,000-origin sites took {cpu:.2f} s of CPU"


if __name__ == "__main__":  # pragma: no cover - the figures of docs/performance.md
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        found = write_sites(Path(scratch))
        for name in ("new", "disabled", "disjoint"):
            runs = sorted(measure(found["old"], found[name])[:2] for _ in range(5))
            walls = sorted(w for w, _ in runs)
            cpus = sorted(c for _, c in runs)
            print(f"{name}: wall min {walls[0]:.2f} median {walls[2]:.2f} s, "
                  f"CPU min {cpus[0]:.2f} median {cpus[2]:.2f} s", file=sys.stdout)
