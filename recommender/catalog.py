"""Product catalogues: read any supported layout into one record type.

Layouts:
  * kaggle  - `styles.csv` + `images/<id>.jpg` (Fashion Product Images, full or small)
  * folders - `<root>/<category>/*.jpg`, the folder name becoming the `category` attribute
  * csv     - a CSV file with `id,image` plus attribute columns; images relative to the CSV, inside
              its folder (an image path leading outside it, `../x.jpg` or `/srv/x.jpg`, is skipped
              unless the merchant allows it: `images_outside=True`, `build --images-outside-catalog`)

Product ids are what shoppers' URLs and votes carry: ids longer than `MAX_ID_CHARS` characters
are skipped and counted in every layout.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from recommender.errors import CatalogError
from recommender.roles import Roles

__all__ = ["Product", "Skipped", "Catalog", "CatalogError", "load_catalog", "without_category", "MAX_ID_CHARS"]

MAX_ID_CHARS = 256  # fits a thumbnail URL (percent-encoded) in a request line and a vote's id column
ID_TOO_LONG = "id too long"
OUTSIDE = "image outside the catalogue folder"


@dataclass(frozen=True)
class Product:
    """One catalogue item: a stable string id, an absolute image path, its attributes."""

    id: str
    image: Path
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """Human-readable name: the attribute playing the name role when there is one, else the id."""
        attribute = Roles.of(self.attributes).name
        return (self.attributes.get(attribute) if attribute else None) or self.id


@dataclass(frozen=True)
class Skipped:
    """A catalogue entry that could not be used, and why (shown to the user, counted in manifests)."""

    ref: str  # an id, a CSV line number ("line 42") or a path
    reason: str  # short stable reason, e.g. "missing image", "malformed row", "unreadable image"


@dataclass
class Catalog:
    root: Path
    layout: str  # "kaggle" | "folders" | "csv"
    products: list[Product]
    skipped: list[Skipped] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.products)

    def skipped_counts(self) -> dict[str, int]:
        """Skipped entries per reason, for reports."""
        return dict(Counter(s.reason for s in self.skipped))

    def fingerprint(self) -> str:
        """Hash of ids, image paths (relative to the root) and attributes.

        It changes when the catalogue changes, not when the whole folder moves.
        """
        digest = hashlib.sha256()
        for p in self.products:
            image = p.image.relative_to(self.root) if p.image.is_relative_to(self.root) else p.image
            digest.update(repr((p.id, str(image), sorted(p.attributes.items()))).encode())
        return digest.hexdigest()[:16]


EXPECTED = "expected styles.csv + images/ (Kaggle), one folder per category, or a CSV with id,image columns"
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif"})


def load_catalog(path: str | Path, *, images_outside: bool = False) -> Catalog:
    """Read a catalogue, detecting its layout from what is on disk.

    Only file existence is checked, never image contents: decoding 44k images here would
    take minutes, and the embedding pipeline reports unreadable ones anyway. `images_outside`
    lets a CSV name images outside its own folder.
    """
    given = Path(path).expanduser()
    if not given.exists():
        raise CatalogError(f"No catalogue found at {given}: {EXPECTED}.")
    given = given.resolve()
    if given.is_file():
        if given.suffix.lower() != ".csv":
            raise CatalogError(f"{given} is not a catalogue: {EXPECTED}.")
        if given.name == "styles.csv" and (given.parent / "images").is_dir():
            catalog = _read_kaggle(given.parent)
        else:
            catalog = _read_csv(given, images_outside)
    elif (given / "styles.csv").is_file() and (given / "images").is_dir():
        catalog = _read_kaggle(given)
    elif csvs := _id_image_csvs(given):
        if len(csvs) > 1:
            names = ", ".join(p.name for p in csvs)
            raise CatalogError(f"{given} holds several catalogue CSVs ({names}); pass the path of one of them.")
        catalog = _read_csv(csvs[0], images_outside)
    elif _category_folders(given):
        catalog = _read_folders(given)
    elif not any(given.iterdir()):
        raise CatalogError(f"The folder {given} is empty: {EXPECTED}.")
    else:
        raise CatalogError(f"No catalogue found at {given}: {EXPECTED}.")
    catalog = _without_long_ids(catalog)
    if not catalog.products:
        counts = ", ".join(f"{n} {reason}" for reason, n in catalog.skipped_counts().items())
        detail = f" ({len(catalog.skipped)} entries skipped: {counts})" if catalog.skipped else ""
        raise CatalogError(f"The catalogue at {given} has no usable products{detail}.")
    return catalog


def _without_long_ids(catalog: Catalog) -> Catalog:
    """Products whose id a shopper's URL or vote could not carry become skipped entries."""
    kept = [p for p in catalog.products if len(p.id) <= MAX_ID_CHARS]
    if len(kept) == len(catalog.products):
        return catalog
    long_ids = [Skipped(f"{p.id[:40]}…", ID_TOO_LONG) for p in catalog.products if len(p.id) > MAX_ID_CHARS]
    return Catalog(catalog.root, catalog.layout, kept, [*catalog.skipped, *long_ids])


def _rows(csv_path: Path) -> Iterator[tuple[int, list[str]]]:
    """Non-blank CSV rows (cells as read) with their line numbers; tolerates a BOM, quoted or unquoted."""
    try:
        with csv_path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, strict=False)
            for row in reader:
                if any(cell.strip() for cell in row):
                    yield reader.line_num, row
    except UnicodeDecodeError as exc:
        raise CatalogError(f"{csv_path} is not a UTF-8 text CSV file.") from exc
    except csv.Error as exc:
        raise CatalogError(f"{csv_path} is not a readable CSV file ({exc}).") from exc


def _header(rows: Iterator[tuple[int, list[str]]]) -> list[str]:
    """The first row's column names (consumed from rows), or [] for an empty file."""
    return [cell.strip() for cell in next((row for _, row in rows), [])]


def _read_kaggle(root: Path) -> Catalog:
    """styles.csv + images/<id>.jpg; surplus fields are commas of an unquoted productDisplayName."""
    styles, images = root / "styles.csv", root / "images"
    rows = _rows(styles)
    header = _header(rows)
    if not header or header[0] != "id":
        raise CatalogError(f"{styles} must start with a header whose first column is id, as in the Kaggle set.")
    width = len(header)
    present = set(os.listdir(images))
    seen: set[str] = set()
    products: list[Product] = []
    skipped: list[Skipped] = []
    for line, row in rows:
        if len(row) < width:
            skipped.append(Skipped(f"line {line}", "malformed row"))
            continue
        if len(row) > width:  # unquoted commas inside the last column (productDisplayName)
            row = row[: width - 1] + [",".join(row[width - 1 :])]
        row = [cell.strip() for cell in row]
        pid = row[0]
        if not (pid.isascii() and pid.isdigit()):
            skipped.append(Skipped(f"line {line}", "invalid id"))
        elif pid in seen:
            skipped.append(Skipped(pid, "duplicate id"))
        elif f"{pid}.jpg" not in present:
            seen.add(pid)
            skipped.append(Skipped(pid, "missing image"))
        else:
            seen.add(pid)
            attributes = {k: v for k, v in zip(header[1:], row[1:]) if v}
            products.append(Product(pid, images / f"{pid}.jpg", attributes))
    return Catalog(root, "kaggle", products, skipped)


def _category_folders(root: Path) -> list[Path]:
    """Visible subfolders of root, sorted, when at least one of them holds an image."""
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    has_image = any(
        f.suffix.lower() in IMAGE_SUFFIXES for folder in folders for f in folder.iterdir() if f.is_file()
    )
    return folders if has_image else []


def _read_folders(root: Path) -> Catalog:
    """<root>/<category>/<image>: the folder name is the category, "<category>/<stem>" the id."""
    products: list[Product] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for folder in _category_folders(root):
        for file in sorted(f for f in folder.iterdir() if f.is_file() and not f.name.startswith(".")):
            pid = f"{folder.name}/{file.stem}"
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                skipped.append(Skipped(f"{folder.name}/{file.name}", "not an image file"))
            elif pid in seen:
                skipped.append(Skipped(f"{folder.name}/{file.name}", "duplicate id"))
            else:
                seen.add(pid)
                products.append(Product(pid, file, {"category": folder.name}))
    return Catalog(root, "folders", products, skipped)


def _id_image_csvs(folder: Path) -> list[Path]:
    """CSV files directly in folder whose header has id and image columns (unreadable ones are not)."""
    found = []
    for csv_path in sorted(folder.glob("*.csv")):
        try:
            header = _header(_rows(csv_path))
        except CatalogError:
            continue
        if {"id", "image"} <= {h.lower() for h in header}:
            found.append(csv_path)
    return found


def _read_csv(csv_path: Path, images_outside: bool) -> Catalog:
    """id,image (+ attributes) rows; image paths relative to the CSV's folder, and inside it unless
    `images_outside` (the path as resolved, links followed: that file is what would be served)."""
    root = csv_path.parent
    rows = _rows(csv_path)
    header = _header(rows)
    lowered = [h.lower() for h in header]  # "ID", "Image": a shop's spelling (the roles' columns too: roles.py)
    if not {"id", "image"} <= set(lowered):
        found = ", ".join(repr(h) for h in header[:8]) + (", ..." if len(header) > 8 else "")
        raise CatalogError(f"{csv_path} has no id and image columns (its first line, read as comma-separated, "
                           f"names {found or 'nothing'}): {EXPECTED}.")
    id_col, image_col = lowered.index("id"), lowered.index("image")
    products: list[Product] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for line, row in rows:
        if len(row) != len(header):
            skipped.append(Skipped(f"line {line}", "malformed row"))
            continue
        row = [cell.strip() for cell in row]
        pid, image = row[id_col], row[image_col]
        if not pid:
            skipped.append(Skipped(f"line {line}", "invalid id"))
        elif pid in seen:
            skipped.append(Skipped(pid, "duplicate id"))
        else:
            seen.add(pid)
            file = Path(os.path.abspath(root / Path(image).expanduser())) if image else None
            if file is None or not file.is_file():
                skipped.append(Skipped(pid, "missing image"))
                continue
            if not images_outside and not file.resolve().is_relative_to(root):
                skipped.append(Skipped(pid, OUTSIDE))
                continue
            attributes = {k: v for i, (k, v) in enumerate(zip(header, row)) if v and i not in (id_col, image_col)}
            products.append(Product(pid, file, attributes))
    return Catalog(root, "csv", products, skipped)


def without_category(products: Sequence[Product]) -> str | None:
    """A sentence naming the products whose category is empty (None: none is): they are found by their picture but
    by no category filter or tag, which a merchant would not guess from anywhere else."""
    category = Roles.of({a for p in products for a in p.attributes}).category
    if category is None:
        return None
    missing = [p.id for p in products if not p.attributes.get(category, "").strip()]
    if not missing:
        return None
    shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
    one = len(missing) == 1
    return (f"{len(missing):,} product{'' if one else 's'} without a {category} ({shown}): indexed, but no category "
            f"filter or tag finds {'it' if one else 'them'}; fill in the column and build again.")
