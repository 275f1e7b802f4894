"""The CLI works on an install of the core requirements alone, without the test extras.

Each command runs in a fresh interpreter whose import system refuses the test extras, as on a
machine where only the core and app sections of requirements.txt are installed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from recommender.cli import COMMANDS

REPO = Path(__file__).resolve().parent.parent
TEST_EXTRAS = ("selenium", "dash.testing", "dash_testing_stub", "percy", "pytest", "_pytest")

# Runs before anything else in the child: a finder first in sys.meta_path that fails these imports.
BLOCK_TEST_EXTRAS = f"""
import runpy
import sys

class RefuseTestExtras:
    def find_spec(self, name, path=None, target=None):
        if any(name == blocked or name.startswith(blocked + ".") for blocked in {TEST_EXTRAS!r}):
            raise ModuleNotFoundError(f"No module named {{name!r}} (a test extra, refused here)")
        return None

sys.meta_path.insert(0, RefuseTestExtras())
for name in {TEST_EXTRAS!r}:
    try:
        __import__(name)
    except ImportError:
        continue
    sys.exit(f"{{name}} was not refused")
sys.argv = ["recommender", *sys.argv[1:]]
runpy.run_module("recommender", run_name="__main__", alter_sys=True)
"""


def run_without_test_extras(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK_TEST_EXTRAS, *argv], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("command", [name.replace("_", "-") for name in COMMANDS])
def test_every_command_help_works_without_the_test_extras(command: str) -> None:
    proc = run_without_test_extras(command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: python -m recommender {command} ")


def test_listing_the_commands_does_not_load_the_benchmark() -> None:
    """psutil and threadpoolctl load only when a benchmark runs: the benchmark alias hands over to bench/ only when it runs."""
    script = (
        "import sys\n"
        "from recommender.cli import build_parser\n"
        "build_parser()\n"
        "measuring = ('psutil', 'threadpoolctl', 'sklearn', 'tensorflow', 'bench', 'bench.run')\n"
        "print(sorted(name for name in measuring if name in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
