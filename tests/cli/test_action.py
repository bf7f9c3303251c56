"""The composite GitHub Action (action.yml) runs as written: its very shell steps, taken from the
file, run locally with the values GitHub would substitute, against a clean and a broken
web.config.  Slow: the first step installs iiscors into a fresh virtual environment."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

SOURCE = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def load_action() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((SOURCE / "action.yml").read_text("utf-8"))
    return document


def substituted(value: str, inputs: dict[str, str]) -> str:
    """What GitHub does to ``${{ inputs.x }}`` in an ``env:`` value."""
    return re.sub(r"\$\{\{\s*inputs\.(\w+)\s*\}\}", lambda m: inputs[m.group(1)], value)


def run_steps(workspace: Path, runner_temp: Path, **given: str) -> subprocess.CompletedProcess[str]:
    action = load_action()
    inputs = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
    inputs["python"] = sys.executable
    inputs.update(given)
    result: subprocess.CompletedProcess[str] | None = None
    for step in action["runs"]["steps"]:
        assert step["shell"] == "bash"
        # contract of the file itself: inputs only reach scripts through env (no injection)
        assert "${{" not in step["run"], step["name"]
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env.update({k: substituted(str(v), inputs) for k, v in step.get("env", {}).items()})
        env.update(RUNNER_TEMP=str(runner_temp), GITHUB_ACTION_PATH=str(SOURCE))
        result = subprocess.run(["bash", "-c", step["run"]], cwd=workspace, env=env,
                                capture_output=True, text=True, timeout=300, check=False)
        if result.returncode != 0:
            return result
    assert result is not None
    return result


@pytest.fixture(scope="module")
def runner_temp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runner-temp")


def test_a_clean_repository_passes(tmp_path: Path, runner_temp: Path) -> None:
    shutil.copy(SOURCE / "sample_configs" / "two-origins.config", tmp_path / "web.config")
    result = run_steps(tmp_path, runner_temp)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "::error" not in result.stdout


def test_a_broken_file_fails_with_located_annotations(tmp_path: Path, runner_temp: Path) -> None:
    (tmp_path / "api").mkdir()
    shutil.copy(SOURCE / "sample_configs" / "invalid" / "duplicates.config",
                tmp_path / "api" / "web.config")
    result = run_steps(tmp_path, runner_temp, paths="api")
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(r"^::error file=api/web\.config,line=\d+", result.stdout, re.M), result.stdout


def test_hostile_inputs_are_arguments_not_shell(tmp_path: Path, runner_temp: Path) -> None:
    shutil.copy(SOURCE / "sample_configs" / "two-origins.config", tmp_path / "web.config")
    marker = tmp_path / "pwned"
    result = run_steps(tmp_path, runner_temp, paths=f"web.config;touch {marker}",
                       args=f"$(touch {marker})")
    assert not marker.exists()
    assert result.returncode == 2, result.stdout + result.stderr  # a usage error, reported
