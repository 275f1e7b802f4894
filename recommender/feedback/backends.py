"""Where the votes live: one SQLite file (the embedded default) or a PostgreSQL database.

Both give the store the same three things: a connection per call (never shared, so threads need
no locks), a write transaction taken at once, and failures turned into one sentence. SQL is
written once with `?` placeholders; the PostgreSQL back end turns them into psycopg's `%s`.

Waiting is bounded: a write waits at most `WAIT_S` for a lock (SQLite's busy timeout, PostgreSQL's
lock_timeout), then the shopper is told the vote could not be saved right now, instead of a worker
hanging until the web server's own timeout kills it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Protocol

from recommender.errors import RecommenderError, ServerFault

__all__ = ["Backend", "SqliteBackend", "PostgresBackend", "open_backend", "is_database_url", "BUSY", "WAIT_S"]

JOURNAL = "DELETE"  # SQLite's rollback journal (see SqliteBackend)
WAIT_S = 5.0  # longest wait for a lock before a vote is refused with BUSY
CONNECT_TIMEOUT_S = 5
INIT_WAIT_S = 30.0  # start-up may wait longer: several workers create the schema at once
BUSY = "The feedback database is busy, so the vote could not be saved right now; try again in a moment."
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
SCHEMA_LOCK = 7_141_592  # PostgreSQL advisory lock id: one process creates or migrates the schema at a time

log = logging.getLogger(__name__)


class Busy(RecommenderError):
    """A lock was not granted in time (another writer holds the database)."""


class Connection(Protocol):
    def execute(self, sql: str, params: Sequence[object] = ()) -> Any: ...


class Backend(Protocol):
    dialect: str
    label: str  # safe to show: no password, no server path

    def connect(self) -> Any: ...  # context manager yielding a Connection

    def write(self) -> Any: ...  # context manager: one transaction, taken at once

    def schema_version(self, conn: Connection) -> int: ...

    def set_schema_version(self, conn: Connection, version: int) -> None: ...

    def prepare(self) -> None: ...  # once before the schema: file mode, folder, locks

    def release(self) -> None: ...  # close what this thread keeps open


def is_database_url(target: str | Path) -> bool:
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


def open_backend(target: str | Path) -> Backend:
    """PostgreSQL for a postgresql:// URL, else an SQLite file at that path."""
    if is_database_url(target):
        return PostgresBackend(str(target))
    return SqliteBackend(Path(target))


class SqliteBackend:
    """One SQLite file with a rollback journal; each write is BEGIN IMMEDIATE.

    Not WAL: WAL's index is a memory-mapped `-shm` file, and a process touching a mapped page of a file
    that was truncated or replaced under it (the database made read-only by copying it, or removed)
    dies of SIGBUS, which no Python code can catch. With a rollback journal and no memory-mapped I/O,
    such a file is an error on the next call, one sentence. Writers wait for readers only while they
    commit (milliseconds: every call is a short transaction of its own).

    Once open, the file is never created again: a database that vanished while the server runs is a
    sentence on every call, not an empty file without tables.
    """

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = Path(path).expanduser().resolve()
        self.label = f"the feedback database {self.path.name}"

    @contextmanager
    def connect(self, *, create: bool = False) -> Iterator[sqlite3.Connection]:
        uri = f"{self.path.as_uri()}?mode={'rwc' if create else 'rw'}"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=WAIT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._fault(exc) from exc
        try:
            conn.execute("PRAGMA mmap_size = 0")  # plain reads: a file changed under us is an error, not a SIGBUS
            conn.execute("PRAGMA synchronous = FULL")  # a vote survives a power cut once recorded
            yield conn
        except sqlite3.Error as exc:
            raise self._fault(exc) from exc
        finally:
            try:
                conn.close()
            except sqlite3.Error as exc:  # after a COMMIT the vote is stored: nothing to tell the shopper
                log.warning("%s did not close cleanly: %s", self.label, exc)

    def _fault(self, exc: sqlite3.Error) -> RecommenderError:
        if isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc)):
            return Busy(BUSY)
        return ServerFault(f"{_capital(self.label)} cannot be used: {exc}.")

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        with self.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")  # no lock upgrade later that could deadlock
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def prepare(self) -> None:
        """Make the folder and the file, and give the file a rollback journal (a no-op once it has one).

        While another process does the same (two gunicorn workers starting at once), SQLite answers
        "database is locked" at once instead of waiting on the busy timeout: retry until it.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RecommenderError(f"The folder of {self.label} cannot be made: {exc.strerror}.") from exc
        deadline = time.monotonic() + INIT_WAIT_S
        while True:
            try:
                with self.connect(create=True) as conn:
                    mode = conn.execute(f"PRAGMA journal_mode = {JOURNAL}").fetchone()[0]
                break
            except Busy:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        if mode != JOURNAL.lower():
            raise RecommenderError(f"{_capital(self.label)} cannot be used: its journal cannot be switched to "
                                   f"{JOURNAL} (it is {mode}).")

    def release(self) -> None:
        """Nothing is kept open: SQLite connections are per call (opening one costs microseconds)."""

    def schema_version(self, conn: sqlite3.Connection) -> int:
        return conn.execute("PRAGMA user_version").fetchone()[0]

    def set_schema_version(self, conn: sqlite3.Connection, version: int) -> None:
        conn.execute(f"PRAGMA user_version = {int(version)}")


class _PgConnection:
    """A psycopg connection that takes the store's `?` placeholders."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[object] = ()) -> Any:
        return self._conn.execute(sql.replace("?", "%s"), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        with self._conn.cursor() as cursor:
            cursor.executemany(sql.replace("?", "%s"), rows)


class PostgresBackend:
    """A PostgreSQL database shared by every app server; psycopg 3 (the optional `psycopg` extra)."""

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        try:
            import psycopg
            from psycopg.conninfo import conninfo_to_dict, make_conninfo
        except ImportError:
            raise RecommenderError(
                "RECOMMENDER_FEEDBACK_URL names a PostgreSQL database but the psycopg package is not installed; "
                "install it with pip install -r requirements-scale.txt."
            ) from None
        self._psycopg = psycopg
        self._local = threading.local()
        try:
            params = conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise RecommenderError(f"RECOMMENDER_FEEDBACK_URL is not a valid PostgreSQL URL ({_first_line(exc)}).") \
                from None
        waits = f"-c lock_timeout={int(WAIT_S * 1000)} -c statement_timeout={int(WAIT_S * 2000)}"
        params["options"] = f"{params.get('options', '')} {waits}".strip()
        params.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
        params.setdefault("application_name", "lookalike")
        self._conninfo = make_conninfo(**params)
        where = f"{params.get('host') or 'localhost'}:{params.get('port') or 5432}/{params.get('dbname') or ''}"
        self.label = f"the feedback database {where}"

    def _connection(self) -> Any:
        """This thread's connection, opened on first use and again after it broke or the process forked.

        One per thread, kept: opening one costs a TCP handshake and a password exchange (tens of ms),
        more than the vote itself. A thread that ends takes its connection with it.
        """
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is None or conn.closed or conn.broken or local.pid != os.getpid():
            conn = self._psycopg.connect(self._conninfo, autocommit=True)
            local.conn, local.pid = conn, os.getpid()
        return conn

    def release(self) -> None:
        """Close this thread's connection (e.g. the one that made the schema, before a server forks)."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            conn.close()

    @contextmanager
    def connect(self) -> Iterator[_PgConnection]:
        errors = self._psycopg.errors
        try:
            conn = self._connection()
            try:
                yield _PgConnection(conn)
            except self._psycopg.OperationalError:
                self.release()  # a broken link is not reused
                raise
        except (errors.LockNotAvailable, errors.QueryCanceled, errors.DeadlockDetected) as exc:
            raise Busy(BUSY) from exc
        except self._psycopg.OperationalError as exc:
            raise ServerFault(f"{_capital(self.label)} cannot be reached: {_first_line(exc)}.") from exc
        except self._psycopg.Error as exc:
            raise ServerFault(f"{_capital(self.label)} cannot be used: {_first_line(exc)}.") from exc

    @contextmanager
    def write(self) -> Iterator[_PgConnection]:
        with self.connect() as conn:
            with conn._conn.transaction():
                yield conn

    def prepare(self) -> None:
        """Nothing to do before the schema; connecting now turns a wrong URL into one sentence at start-up."""

    def schema_version(self, conn: _PgConnection) -> int:
        conn.execute(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")  # held until the transaction ends
        conn.execute("CREATE TABLE IF NOT EXISTS feedback_schema (version INTEGER NOT NULL)")
        row = conn.execute("SELECT max(version) FROM feedback_schema").fetchone()
        return row[0] or 0

    def set_schema_version(self, conn: _PgConnection, version: int) -> None:
        conn.execute("DELETE FROM feedback_schema")
        conn.execute("INSERT INTO feedback_schema (version) VALUES (?)", (int(version),))


def _first_line(exc: BaseException) -> str:
    """A driver's message without its hints and trailing punctuation: the sentence around it is ours."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[0] if lines else type(exc).__name__).rstrip(".")


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
