"""The pre-commit hook (.pre-commit-hooks.yaml) works as a user's repository meets it:
``pre-commit try-repo`` installs iiscors from this repository into pre-commit's own environment
and runs the hook on a sample repository; a good web.config passes, a bad one fails with located
messages, and files that are not IIS configuration (packages.config) are left out.  Slow: pre-commit
builds a fresh environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
                   cwd=repo, check=True, capture_output=True)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def try_repo(repo: Path, home: Path, *files: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PRE_COMMIT_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(SOURCE),
                           "iiscors-validate", "--verbose", "--files", *files],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=600,
                          check=False)


@pytest.fixture()
def sample_repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q")
    (tmp_path / "good").mkdir()
    (tmp_path / "bad").mkdir()
    shutil.copy(SOURCE / "sample_configs" / "two-origins.config", tmp_path / "good" / "web.config")
    shutil.copy(SOURCE / "sample_configs" / "invalid" / "duplicates.config",
                tmp_path / "bad" / "web.config")
    (tmp_path / "packages.config").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<packages>\n'
        '  <package id="jQuery" version="3.7.1" />\n</packages>\n', encoding="utf-8")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "sample")
    return tmp_path


def test_a_good_file_and_an_unrelated_one_pass(sample_repo: Path, home: Path) -> None:
    result = try_repo(sample_repo, home, "good/web.config", "packages.config")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Passed" in result.stdout


def test_a_bad_file_fails_with_located_messages(sample_repo: Path, home: Path) -> None:
    result = try_repo(sample_repo, home, "good/web.config", "bad/web.config")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Failed" in result.stdout
    assert "bad/web.config:" in result.stdout and " error E" in result.stdout, result.stdout
    assert "good/web.config:" not in result.stdout
