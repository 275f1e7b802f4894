"""A PostgreSQL server for the tests that need one: each test gets a schema of its own, dropped after.

The URL comes from RECOMMENDER_TEST_POSTGRES_URL (CI sets it, after starting Debian's server in
`.ci/run`); without it the role and database that `.ci/run` creates are tried on 127.0.0.1. When
the variable is set the server must answer (a CI without it fails); otherwise its absence skips.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import pytest

URL_ENV = "RECOMMENDER_TEST_POSTGRES_URL"
DEFAULT_URL = "postgresql://lookalike:lookalike@127.0.0.1:5432/lookalike_test"


@cache
def _reachable() -> tuple[str | None, str]:
    """(url, "") when a server answers, else (None, why)."""
    url = os.environ.get(URL_ENV) or DEFAULT_URL
    try:
        import psycopg
    except ImportError:
        return None, "psycopg is not installed (pip install -r requirements-scale.txt)"
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return None, f"no PostgreSQL server answers at {url} ({str(exc).splitlines()[0]})"
    return url, ""


def postgres_url() -> str:
    """The test server's URL; skips the test without one (fails it when CI promised one)."""
    url, why = _reachable()
    if url is None:
        if os.environ.get(URL_ENV):
            pytest.fail(f"{URL_ENV} is set but {why}")
        pytest.skip(f"{why}; set {URL_ENV} or run .ci/run, which starts one")
    return url


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A URL whose tables live in a new, empty schema (search_path), dropped on exit (skips without a server)."""
    url = postgres_url()  # first: without psycopg or a server the test skips, with the reason
    import psycopg

    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
