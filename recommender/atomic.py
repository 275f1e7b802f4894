"""Atomic file writes: readers, and a rerun after a crash, see the old file or the new one, never half.

The data goes to a temp file in the target's own folder (so the rename stays on one file system),
is flushed to disk, then renamed over the target with `os.replace`, and the folder itself is
flushed so the rename survives a power cut. The temp name is unique per process and thread, so
concurrent writers of one target (two requests making the same thumbnail) never share a temp
file; a failed write (a full disk, an interruption) removes its temp file.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["TEMP_SUFFIX", "atomic_write", "write_text_atomic", "fsync_dir"]

TEMP_SUFFIX = ".tmp"


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (renames, new files) to disk."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_write(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temp file for writing (`"w"` text as UTF-8, or `"wb"`) that replaces `path` on success."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}{TEMP_SUFFIX}")
    try:
        with open(tmp, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` atomically."""
    with atomic_write(path) as handle:
        handle.write(text)
