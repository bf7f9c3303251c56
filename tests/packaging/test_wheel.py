"""The package as a user installs it: the sdist and the wheel build, pass ``twine check``, and the
wheel, installed into a fresh virtual environment and run from outside the source tree, finds
its XSD, its sample configurations, the playground's page assets and the demo, and serves a real
request (issue 11: "the wheel still carries the XSD, the sample configs and the playground
assets").

It installs from the package registry (the wheel's dependencies), as a user would; it is slow
(about half a minute) and runs in CI.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def run(argv: list[str], cwd: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, check=False, **kwargs)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    built = run([sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out),
                 str(SOURCE)], cwd=out)
    assert built.returncode == 0, built.stdout + built.stderr
    return out


@pytest.fixture(scope="module")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with only the wheel (and its dependencies) installed."""
    home = tmp_path_factory.mktemp("venv")
    venv.create(home, with_pip=True)
    wheel = next(dist.glob("iiscors-*.whl"))
    done = run([str(home / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], cwd=home)
    assert done.returncode == 0, done.stdout + done.stderr
    return home


@pytest.fixture()
def outside(tmp_path: Path) -> Path:
    """A working directory with no iiscors source in sight."""
    assert not (tmp_path / "iiscors").exists()
    return tmp_path


def test_twine_check_passes(dist: Path) -> None:
    files = sorted(str(p) for p in dist.iterdir())
    assert any(f.endswith(".whl") for f in files) and any(f.endswith(".tar.gz") for f in files)
    checked = run([sys.executable, "-m", "twine", "check", "--strict", *files], cwd=dist)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_installed_package_is_the_wheel(installed: Path, outside: Path) -> None:
    probe = ("import iiscors, json; from iiscors.config.schema import schema_path;"
             "from importlib.metadata import version;"
             "from pathlib import Path; pkg = Path(iiscors.__file__).parent;"
             "print(json.dumps({'pkg': str(pkg), 'xsd': str(schema_path()),"
             "'assets': sorted(p.name for p in (pkg / 'serving').glob('playground_page.*')),"
             "'samples': sorted(p.name for p in (pkg / 'sample_configs').glob('*.config')),"
             "'demo': sorted(p.name for p in (pkg / 'serving' / 'demo').iterdir()),"
             "'version': iiscors.__version__, 'metadata': version('iiscors')}))")
    result = run([str(installed / "bin" / "python"), "-c", probe], cwd=outside)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["pkg"].startswith(str(installed)), found  # not the source tree
    assert found["xsd"].startswith(found["pkg"]) and Path(found["xsd"]).is_file()
    assert found["assets"] == ["playground_page.css", "playground_page.html",
                               "playground_page.js"]
    assert "microsoft-reference.config" in found["samples"]
    assert {"web.config", "playground.config", "app.py"} <= set(found["demo"])
    # the version is written once (iiscors/__init__.py); the wheel's metadata is read from it
    assert found["metadata"] == found["version"]


def test_the_version_is_written_once() -> None:
    pyproject = (SOURCE / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in pyproject
    assert "\nversion =" not in pyproject


def test_validate_and_explain_from_the_wheel(installed: Path, outside: Path) -> None:
    iiscors = str(installed / "bin" / "iiscors")
    sample = run([str(installed / "bin" / "python"), "-c",
                  "import iiscors, pathlib; print(pathlib.Path(iiscors.__file__).parent"
                  " / 'sample_configs' / 'microsoft-reference.config')"], cwd=outside)
    config = sample.stdout.strip()
    validated = run([iiscors, "validate", config], cwd=outside)
    assert validated.returncode in (0, 1), validated.stderr  # a report, not a crash
    assert "Traceback" not in validated.stderr
    assert "microsoft-reference.config" in validated.stdout + validated.stderr
    explained = run([iiscors, "explain", config, "--origin", "https://www.contoso.com",
                     "--method", "GET", "--format", "json"], cwd=outside)
    assert explained.returncode == 0, explained.stderr
    assert json.loads(explained.stdout)["kind"] == "actual"
    helped = run([iiscors, "playground", "--help"], cwd=outside)
    assert helped.returncode == 0 and "--api-port" in helped.stdout, helped.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def demo_server(installed: Path, outside: Path) -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen([str(installed / "bin" / "iiscors"), "serve", "--host",
                                "127.0.0.1", "--port", str(port)], cwd=outside,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert process.poll() is None, "iiscors serve exited"
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_serve_from_the_wheel_answers_a_real_request(demo_server: int) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{demo_server}/api/items",
                                     headers={"Origin": "https://app.example.com"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
