"""The last audit of an index, kept beside it (`audit.json`) so the Audit page shows it without recomputing.

The report is tied to the vectors it was computed from (their digest): a rebuilt index's old audit
is refused with a sentence, never shown against other products.
"""

from __future__ import annotations

import json
from pathlib import Path

from recommender.audit import AuditReport
from recommender.errors import RecommenderError
from recommender.index_format import read_manifest, vectors_digest, write_json

__all__ = ["AUDIT_FILE", "save_report", "load_report"]

AUDIT_FILE = "audit.json"


def _digest(index_dir: Path) -> str:
    import numpy as np

    return vectors_digest(np.load(Path(index_dir) / "vectors.npy", mmap_mode="r"))


def save_report(index_dir: Path, report: AuditReport) -> None:
    """Write audit.json atomically into the index folder."""
    write_json(Path(index_dir) / AUDIT_FILE, {"vectors": _digest(index_dir), **report.to_json()})


def load_report(index_dir: Path) -> AuditReport:
    """The saved audit of the index at `index_dir`; RecommenderError with a sentence when there is none usable."""
    index_dir = Path(index_dir)
    path = index_dir / AUDIT_FILE
    command = f"python -m recommender audit --index {index_dir}"
    read_manifest(index_dir)
    if not path.exists():
        raise RecommenderError(f"This catalogue has not been audited yet; run {command}.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        report = AuditReport.from_json(data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RecommenderError(f"The saved audit cannot be read ({exc}); run {command} again.") from None
    if data.get("vectors") != _digest(index_dir):
        raise RecommenderError(f"The saved audit is of an earlier build of this index; run {command} again.")
    return report
