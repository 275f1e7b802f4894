"""Without psycopg (the core install: it comes with requirements-scale.txt) every PostgreSQL test skips with
its reason, never errors: the modules using tests/postgres.py run in a Python where psycopg cannot be imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.postgres import URL_ENV

REPO = Path(__file__).resolve().parent.parent
# every module with a PostgreSQL case, directly or through test_feedback's `target` fixture
MODULES = ["tests/test_feedback.py", "tests/test_feedback_shown.py", "tests/test_search_log.py"]
WITHOUT_PSYCOPG = "import sys; sys.modules['psycopg'] = None; import pytest; sys.exit(pytest.main(sys.argv[1:]))"


def test_postgresql_tests_skip_with_the_reason_when_psycopg_is_missing() -> None:
    env = {k: v for k, v in os.environ.items() if k != URL_ENV}  # with it set, a missing server must fail instead
    done = subprocess.run([sys.executable, "-c", WITHOUT_PSYCOPG, *MODULES, "-q", "-rs", "-k", "postgresql",
                           "-p", "no:cacheprovider"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    summary = done.stdout.strip().splitlines()[-1]
    assert done.returncode == 0, done.stdout[-3000:]
    assert "error" not in summary and "failed" not in summary and "skipped" in summary, summary
    assert "psycopg is not installed" in done.stdout
