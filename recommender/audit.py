"""A catalogue audit: where a shop's labels and pictures disagree, what is filed twice, what is broken.

Every label check is out-of-fold, so a product's own label never votes for itself: a k-fold logistic
linear model over the index's vectors (scikit-learn's linear discriminant analysis and
`cross_val_predict`: each product is predicted by a model trained on the other folds) and a vote of
each product's nearest neighbours (itself left out). The two probabilities are averaged; a product
whose label the average finds less likely than another value is a suspect. Suspects are ranked by
how unlikely their label is compared with products of the same label (its probability over that
label's mean probability, as confident learning does), so labels that are often confused with
another (T-shirts and tops) do not crowd out the plainly wrong ones; this ranking was chosen over the
plain margin, and 30 neighbours over 10 or 20, on the swap test's seed 1 (README: "Catalogue audit").
The index's own head is not used for this: it was trained on the very labels being checked.
Near-duplicates are judged by the picture: products near in the index's vectors are candidates, confirmed
only when their pictures match pixel for pixel at a small size (a trained head draws a kind's products
together, so its vectors alone grouped 36 different shoes of the demo), plus identical pixel digests.
Broken pictures come from the build's skipped list, blank flags and image
sizes; thin categories from counts. A catalogue without labels gets the last two only, and is told so.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recommender.catalog import without_category
from recommender.errors import ImageError
from recommender.images import open_image
from recommender.index_files import IndexFiles
from recommender.roles import Roles

__all__ = ["Suspect", "AuditReport", "audit", "label_scores", "label_attributes", "neighbours"]

FOLDS = 5
NEIGHBOURS = 30  # the nearest products that vote on a label (the Audit page shows the first 5)
REDUCED_DIM = 128  # PCA dimensions the label models and the neighbour search work in: fast, and loses little
DUPLICATE_DISTANCE = 0.15  # Euclidean distance between unit vectors under which two pictures may be the same shot
PIXEL_SIDE = 64  # candidates' pictures are compared in colour at PIXEL_SIDE x PIXEL_SIDE, padded square with white
PIXEL_DIFFERENCE = 0.01  # mean absolute difference (0-1) under which two pictures show the same shot (README)
MIN_PRODUCTS = 5  # a category with fewer products is too thin to learn or to browse
TINY_SIDE = 32  # pixels: a picture with a shorter side cannot show a garment


@dataclass(frozen=True)
class Suspect:
    """A product whose label the pictures disagree with: what it says, what the pictures suggest."""

    id: str
    attribute: str
    label: str
    suggested: str
    confidence: float  # the out-of-fold probability of the suggested value
    suspicion: float  # 1 - the label's probability over its label's mean probability: the ranking key
    neighbours: tuple[str, ...] = ()  # nearest products' ids, closest first


@dataclass
class AuditReport:
    """What `python -m recommender audit` prints and the Audit page shows."""

    suspects: list[Suspect] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)  # {"ids": [...], "distance": max within}
    images: list[dict[str, str]] = field(default_factory=list)  # {"id", "reason"}
    thin: list[dict[str, Any]] = field(default_factory=list)  # {"attribute", "value", "count"}
    attributes: list[str] = field(default_factory=list)  # the labels checked
    notes: list[str] = field(default_factory=list)
    # the vectors were trained on the labels checked: a wrong label learnt from looks right. A fact, not a
    # sentence: what to do about it depends on who reads it (the CLI's user has the raw index, the page's has not)
    trained_on_labels: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"suspects": [asdict(s) | {"neighbours": list(s.neighbours)} for s in self.suspects],
                "duplicates": self.duplicates, "images": self.images, "thin_categories": self.thin,
                "attributes": self.attributes, "notes": self.notes, "trained_on_labels": self.trained_on_labels}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "AuditReport":
        suspects = [Suspect(**{**s, "neighbours": tuple(s.get("neighbours", ()))}) for s in data["suspects"]]
        notes = [n for n in data["notes"] if not n.startswith(_OLD_TRAINED_NOTE)]  # a report saved before the flag
        trained = bool(data.get("trained_on_labels")) or len(notes) < len(data["notes"])
        return cls(suspects, list(data["duplicates"]), list(data["images"]), list(data["thin_categories"]),
                   list(data["attributes"]), notes, trained)


_OLD_TRAINED_NOTE = "This index is trained on the labels being checked"


def label_attributes(files: IndexFiles) -> list[str]:
    """The catalogue's own category label (not one computed at build), when it has two values or more."""
    attribute = Roles.of({key for p in files.products for key in p.attributes}).category
    if attribute is None or attribute in files.manifest.computed:
        return []
    values = {p.attributes.get(attribute, "") for p in files.products} - {""}
    return [attribute] if len(values) >= 2 else []


def reduced(vectors: np.ndarray, dim: int = REDUCED_DIM) -> np.ndarray:
    """Unit vectors in at most `dim` PCA dimensions (seeded), float32."""
    from sklearn.decomposition import PCA

    x = np.asarray(vectors, dtype=np.float32)
    if x.shape[1] > dim and len(x) > dim:
        x = PCA(dim, svd_solver="randomized", random_state=0).fit_transform(x).astype(np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def neighbours(x: np.ndarray, k: int = NEIGHBOURS) -> tuple[np.ndarray, np.ndarray]:
    """(distances, rows) of each row's k nearest other rows (exact, FAISS), itself left out."""
    import faiss

    k = min(k, len(x) - 1)
    search = faiss.IndexFlatL2(x.shape[1])
    search.add(np.ascontiguousarray(x))
    squared, rows = search.search(np.ascontiguousarray(x), k + 1)
    own = rows == np.arange(len(x))[:, None]
    own[~own.any(axis=1), -1] = True  # identical pictures may push a row out of its own first place
    keep = ~own
    return (np.sqrt(np.maximum(squared[keep], 0)).reshape(len(x), k), rows[keep].reshape(len(x), k))


def label_scores(x: np.ndarray, labels: Sequence[str], rows: np.ndarray, folds: int = FOLDS,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(classes, out-of-fold probabilities (n, classes)): the mean of a k-fold linear model and a vote of
    the neighbours in `rows`. Products without a label ("") are neither learnt nor scored."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    labels = np.asarray(labels, dtype=str)
    classes, codes = np.unique(labels, return_inverse=True)
    known = labels != ""
    vote = np.zeros((len(labels), len(classes)), dtype=np.float32)
    neighbour_codes = np.where(known[rows], codes[rows], -1)
    for column in range(rows.shape[1]):
        valid = neighbour_codes[:, column] >= 0
        np.add.at(vote, (np.flatnonzero(valid), neighbour_codes[valid, column]), 1.0)
    vote /= np.maximum(vote.sum(axis=1, keepdims=True), 1.0)
    model = np.zeros_like(vote)
    learnt = np.flatnonzero(known)
    with warnings.catch_warnings():  # a rare value missing from a fold is expected: its column is then 0
        warnings.simplefilter("ignore")
        cv = StratifiedKFold(min(folds, max(2, np.bincount(codes[learnt]).max())), shuffle=True, random_state=0)
        linear = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")  # closed form: seconds at 44k
        proba = cross_val_predict(linear, x[learnt], codes[learnt], cv=cv, method="predict_proba")
    present = np.unique(codes[learnt])
    model[np.ix_(learnt, present)] = proba
    return classes, (vote + model) / 2.0


def label_suspects(ids: Sequence[str], attribute: str, labels: Sequence[str], x: np.ndarray,
                   rows: np.ndarray) -> list[Suspect]:
    """The products whose label another value outscores out of fold, most suspicious first."""
    classes, proba = label_scores(x, labels, rows)
    codes = np.searchsorted(classes, np.asarray(labels, dtype=str))
    own = proba[np.arange(len(codes)), codes]
    counts = np.bincount(codes, minlength=len(classes))
    # a value that a single product holds cannot be checked out of fold (it is a thin category instead)
    known = (np.asarray(labels, dtype=str) != "") & (counts[codes] >= 2)
    typical = np.bincount(codes[known], weights=own[known], minlength=len(classes)) / np.maximum(counts, 1)
    suspicion = 1.0 - own / np.maximum(typical[codes], 1e-9)
    best = proba.argmax(axis=1)
    suspects = [Suspect(ids[i], attribute, labels[i], str(classes[best[i]]), round(float(proba[i, best[i]]), 4),
                        float(suspicion[i]), tuple(ids[j] for j in rows[i, :5]))
                for i in np.flatnonzero(known & (best != codes))]
    return sorted(suspects, key=lambda s: -s.suspicion)  # exact values: many labels are near 0, ties are not


def small_picture(path: Path) -> np.ndarray | None:
    """A product's picture as PIXEL_SIDE² RGB values in [0, 1]; None when it cannot be read."""
    from PIL import ImageOps

    try:
        image = open_image(path, longest=4 * PIXEL_SIDE)
    except (ImageError, OSError):
        return None
    return np.asarray(ImageOps.pad(image, (PIXEL_SIDE, PIXEL_SIDE), color=(255, 255, 255)), np.float32) / 255.0


def same_pictures(files: IndexFiles, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per pair of rows, whether their pictures match at a small size (each picture read once)."""
    pictures = {int(row): small_picture(files.products[row].image) for row in np.unique(np.concatenate([a, b]))}
    return np.array([pictures[i] is not None and pictures[j] is not None
                     and float(np.abs(pictures[i] - pictures[j]).mean()) < PIXEL_DIFFERENCE
                     for i, j in zip(a.tolist(), b.tolist())], dtype=bool)


def duplicate_groups(files: IndexFiles, distances: np.ndarray, rows: np.ndarray) -> list[dict[str, Any]]:
    """Groups of products showing the same picture: near in the full vectors and alike in pixels, or with
    identical pixels."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(files.ids)
    first, second = np.nonzero(distances < DUPLICATE_DISTANCE * 1.5)  # candidates, confirmed on full vectors
    a, b = first, rows[first, second]
    full = np.linalg.norm(np.asarray(files.vectors[a], np.float32) - np.asarray(files.vectors[b], np.float32), axis=1)
    near = full < DUPLICATE_DISTANCE
    a, b, full = a[near], b[near], full[near]
    alike = same_pictures(files, a, b)
    a, b, full = a[alike], b[alike], full[alike]
    if files.appearance is not None:
        _, digest_group = np.unique(files.appearance.digests, return_inverse=True)
        order = np.argsort(digest_group, kind="stable")
        same = digest_group[order][1:] == digest_group[order][:-1]
        a, b = np.concatenate([a, order[:-1][same]]), np.concatenate([b, order[1:][same]])
        full = np.concatenate([full, np.zeros(int(same.sum()))])
    count, group = connected_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)), directed=False)
    spread = np.zeros(count)
    np.maximum.at(spread, group[a], full)
    members = np.bincount(group, minlength=count)
    groups = [{"ids": [files.ids[i] for i in np.flatnonzero(group == g)], "distance": round(float(spread[g]), 4)}
              for g in np.flatnonzero(members > 1)]
    return sorted(groups, key=lambda g: (g["distance"], -len(g["ids"])))


def broken_images(files: IndexFiles) -> list[dict[str, str]]:
    """Pictures the build left out (missing, unreadable, blank) and those too small to show a garment."""
    from PIL import Image

    found = [{"id": s.ref, "reason": s.reason} for s in files.manifest.skipped]
    if files.appearance is not None:
        found += [{"id": files.ids[i], "reason": "blank image"} for i in np.flatnonzero(files.appearance.blank)]
    for product in files.products:
        try:
            with Image.open(product.image) as image:  # reads the header only
                if min(image.size) < TINY_SIDE:
                    found.append({"id": product.id, "reason": f"tiny image ({image.width}x{image.height} px)"})
        except OSError:
            found.append({"id": product.id, "reason": "image missing or unreadable now"})
    return found


def thin_categories(files: IndexFiles, attribute: str, labels: Sequence[str]) -> list[dict[str, Any]]:
    values, counts = np.unique(np.asarray([v for v in labels if v], dtype=str), return_counts=True)
    return [{"attribute": attribute, "value": str(v), "count": int(c)}
            for v, c in sorted(zip(values, counts), key=lambda vc: vc[1]) if c < MIN_PRODUCTS]


def audit(files: IndexFiles, labels: dict[str, Sequence[str]] | None = None, *, images: bool = True) -> AuditReport:
    """Audit an index folder's catalogue; `labels` replaces an attribute's labels (the swap test)."""
    report = AuditReport(attributes=sorted(labels) if labels else label_attributes(files))
    if len(files.ids) < 3:
        report.notes.append("The catalogue has fewer than 3 products: there is nothing to compare.")
        report.images = broken_images(files) if images else []
        return report
    x = reduced(files.vectors)
    distances, rows = neighbours(x)
    for attribute in report.attributes:
        values = (labels or {}).get(attribute) or [p.attributes.get(attribute, "") for p in files.products]
        report.suspects += label_suspects(files.ids, attribute, list(values), x, rows)
        report.thin += thin_categories(files, attribute, values)
    report.suspects.sort(key=lambda s: -s.suspicion)
    if not report.attributes:
        report.notes.append("The catalogue has no category labels: only duplicates and broken images are listed.")
    elif not labels and (unlabelled := without_category(files.products)):
        report.notes.append(unlabelled)
    report.trained_on_labels = bool(files.manifest.model.head)
    report.duplicates = duplicate_groups(files, distances, rows)
    report.images = broken_images(files) if images else []
    return report
