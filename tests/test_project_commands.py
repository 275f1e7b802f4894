"""The README's two commands around pytest: scripts/setup.sh (what it installs, and when it says so) and the
test command's options (every skip says why)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_a_skip_says_why(tmp_path: Path) -> None:
    (tmp_path / "test_skips.py").write_text("import pytest\n\ndef test_x():\n    pytest.skip('no such data here')\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-c", str(REPO / "pyproject.toml"),
                           "--rootdir", str(tmp_path), str(tmp_path / "test_skips.py")],
                          capture_output=True, text=True, timeout=120)
    assert "1 skipped" in proc.stdout and "SKIPPED [1]" in proc.stdout and "no such data here" in proc.stdout


def _fake(folder: Path, name: str, script: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("sha256sum") is None, reason="needs bash, sha256sum")
def test_setup_installs_each_requirements_file_once_whichever_command_runs(tmp_path: Path) -> None:
    """demo.sh (setup.sh) and test.sh (setup.sh --test) alternating install nothing again, and say nothing."""
    checkout, fakes = tmp_path / "checkout", tmp_path / "bin"
    (checkout / "scripts").mkdir(parents=True)
    (checkout / ".venv" / "bin").mkdir(parents=True)
    fakes.mkdir()
    shutil.copy(REPO / "scripts" / "setup.sh", checkout / "scripts")
    fetches = tmp_path / "fetch.log"  # the person model's fetch (its own test: tests/test_person.py), recorded
    (checkout / "scripts" / "fetch_person_model.sh").write_text(f"echo fetch >> {fetches}\n")
    (checkout / "requirements.txt").write_text("numpy\n")
    (checkout / "requirements-scale.txt").write_text("pyspark\n")
    log = tmp_path / "pip.log"
    _fake(checkout / ".venv" / "bin", "python", f'echo "$*" >> {log}')  # the venv's pip, recording what it is asked
    for tool in ("apt-get", "sudo", "systemctl", "java"):  # nothing is installed on this machine by the test
        _fake(fakes, tool, "exit 0")
    env = {**os.environ, "PATH": f"{fakes}:{os.environ['PATH']}"}

    def setup(*args: str) -> str:
        proc = subprocess.run(["bash", "scripts/setup.sh", *args], cwd=checkout, env=env, capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        # Debian packages this machine lacks are "installed" by the fake apt-get, saying so each time
        return "".join(line for line in proc.stdout.splitlines(True) if not line.startswith("Installing Debian"))

    first_demo, first_test = setup(), setup("--test")
    assert "Installing the Python packages of requirements.txt" in first_demo
    assert "requirements.txt" not in first_test and "Installing the optional engines" in first_test
    assert [setup(), setup("--test"), setup(), setup("--scale")] == ["", "", "", ""]  # no reinstall, no message
    assert fetches.read_text().split() == ["fetch"] * 6  # every setup makes sure of the person model
    assert log.read_text().splitlines() == ["-m pip install -q -r requirements.txt",
                                            "-m pip install -q -r requirements-scale.txt"]
    (checkout / "requirements.txt").write_text("numpy\nscipy\n")
    assert "requirements.txt changed since .venv was set up" in setup("--test")
    assert log.read_text().splitlines()[-1] == "-m pip install -q -r requirements.txt"
