"""The last audit of an index, kept beside it (`audit.json`) so the Audit page shows it without recomputing,
and the merchant's accepted fixes written back in the catalogue's own columns.

The report is tied to the vectors it was computed from (their digest): a rebuilt index's old audit
is refused with a sentence, never shown against other products.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from pathlib import Path

from recommender.audit import AuditReport
from recommender.catalog import Product
from recommender.errors import RecommenderError
from recommender.index_files import vectors_digest
from recommender.manifest import Manifest, read_manifest, write_json

__all__ = ["AUDIT_FILE", "save_report", "load_report", "fixes_csv"]

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


def fixes_csv(manifest: Manifest, products: Mapping[str, Product],
              decisions: Mapping[tuple[str, str], tuple[str, str]]) -> str:
    """The accepted fixes as CSV rows in the catalogue's own columns (Kaggle's styles.csv: `id` then its
    attributes; a CSV or folder catalogue: `id,image` then its attributes), the suggested value in place.

    Attributes the build computed (a colour from the pictures) are not the catalogue's columns and are
    left out; accepted fixes of products no longer in the index are skipped.
    """
    accepted: dict[str, dict[str, str]] = {}
    for (item, attribute), (decision, suggested) in sorted(decisions.items()):
        if decision == "accept" and item in products:
            accepted.setdefault(item, {})[attribute] = suggested
    columns = list(dict.fromkeys(key for p in products.values() for key in p.attributes
                                 if key not in manifest.computed))
    head = ["id"] if manifest.catalog.layout == "kaggle" else ["id", "image"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(head + columns)
    for item, fixes in accepted.items():
        product = products[item]
        values = {**product.attributes, **fixes}
        image = [] if len(head) == 1 else [_image_cell(product.image, manifest.catalog.path)]
        writer.writerow([item, *image, *(values.get(c, "") for c in columns)])
    return out.getvalue()


def _image_cell(image: Path, root: str) -> str:
    """An image as the catalogue's CSV names it, relative to the catalogue's folder (so the fixed rows paste into
    the shop's own file and survive the folder moving); its full path only when it lies outside (allowed by build)."""
    for picture, folder in ((Path(image), Path(root)), (Path(image).resolve(), Path(root).resolve())):
        try:
            return picture.relative_to(folder).as_posix()
        except ValueError:
            continue
    return str(image)
