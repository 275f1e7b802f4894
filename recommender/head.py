"""The trained head: a small dense network over frozen backbone features, run in numpy.

ImageNet features weigh background, hanger and overall colour as much as the garment. A head
trained on the catalogue's own labels (and shoppers' photos tied to them by a label map) maps a
backbone vector plus the picture's foreground colours to an embedding where the same kind of
garment lands close together, and classifies it (category, colour, gender) with cosine
classifiers. Training needs Keras (`recommender.training`); using a head needs numpy only, so a
query never imports TensorFlow for it.

A head is stored as `head.npz` in the index folder it made; its identity (`Head.id`, a digest of
its content) is the `head` of the index's ModelSpec. It remembers the backbone and the catalogue
version it was trained for, and is refused with a sentence anywhere else.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from recommender.errors import IncompatibleIndex, IndexFormatError
from recommender.model_spec import ModelSpec
from recommender.vectors import unit_rows

if TYPE_CHECKING:
    from recommender.backbones import Extractor

__all__ = ["Head", "HeadExtractor", "read_head"]

HEAD_VERSION = 1
_LAYERS = ("hidden_kernel", "hidden_bias", "embed_kernel", "embed_bias")


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


@dataclass(frozen=True, eq=False)
class Head:
    """Dense(hidden, relu) -> Dense(dim) -> unit length; one cosine classifier per attribute.

    Input: a unit backbone vector, followed (when colour_dim > 0) by colour_scale * sqrt(the
    foreground colour histogram): the square root turns histogram overlap into a dot product.
    """

    hidden_kernel: np.ndarray  # (input_dim + colour_dim, hidden)
    hidden_bias: np.ndarray  # (hidden,)
    embed_kernel: np.ndarray  # (hidden, dim)
    embed_bias: np.ndarray  # (dim,)
    prototypes: dict[str, np.ndarray]  # attribute -> (V, dim), one row per class (any length)
    attributes: dict[str, list[str]]  # attribute -> class vocabulary, same order as its prototypes
    input_dim: int  # the backbone's dimension
    colour_dim: int  # 0: colours are not an input
    backbone: ModelSpec  # the model (without head) whose vectors this head takes
    catalog_fingerprint: str  # the catalogue version it was trained on
    colour_scale: float = 1.0
    logit_scale: float = 16.0
    id: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", hashlib.sha256(self._canonical()).hexdigest()[:16])

    @property
    def dim(self) -> int:
        return int(self.embed_kernel.shape[1])

    def _meta(self) -> dict[str, Any]:
        return {"version": HEAD_VERSION, "attributes": self.attributes, "input_dim": self.input_dim,
                "colour_dim": self.colour_dim, "backbone": self.backbone.to_json(),
                "catalog_fingerprint": self.catalog_fingerprint, "colour_scale": self.colour_scale,
                "logit_scale": self.logit_scale}

    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = {name: np.asarray(getattr(self, name), dtype="<f4") for name in _LAYERS}
        arrays.update({f"prototypes/{i}": np.asarray(self.prototypes[a], dtype="<f4")
                       for i, a in enumerate(self.attributes)})
        return arrays

    def _canonical(self) -> bytes:
        """The content, byte for byte, independent of how it is zipped: what the identity digests."""
        digest = hashlib.sha256(json.dumps(self._meta(), sort_keys=True).encode())
        self._digest_arrays(digest)
        return digest.digest()

    @property
    def weights_id(self) -> str:
        """A digest of the learnt arrays alone. `id` also digests the backbone's spec, whose model file path
        differs from clone to clone: the same seeded training in another folder has another `id` and this
        same `weights_id` (what the demo's shipped look calibration is matched by)."""
        digest = hashlib.sha256()
        self._digest_arrays(digest)
        return digest.hexdigest()[:16]

    def _digest_arrays(self, digest: "hashlib._Hash") -> None:
        for name, array in sorted(self._arrays().items()):
            digest.update(f"{name}:{array.shape}".encode())
            digest.update(np.ascontiguousarray(array).tobytes())

    # ------------------------------------------------------------------ inference

    def embed(self, raw: np.ndarray, colours: np.ndarray | None = None) -> np.ndarray:
        """(n, input_dim) unit backbone vectors [+ (n, colour_dim) histograms] -> (n, dim) unit float32."""
        x = np.atleast_2d(np.asarray(raw, dtype=np.float32))
        if x.shape[1] != self.input_dim:
            raise IncompatibleIndex(f"The head {self.id} takes vectors of {self.input_dim} dimensions, not "
                                    f"{x.shape[1]}; it was trained for another backbone.")
        if self.colour_dim:
            if colours is None:
                raise ValueError("this head takes the pictures' colour histograms too")
            c = np.atleast_2d(np.asarray(colours, dtype=np.float32))
            x = np.concatenate([x, self.colour_scale * np.sqrt(np.clip(c, 0.0, None))], axis=1)
        hidden = np.maximum(x @ self.hidden_kernel + self.hidden_bias, 0.0)
        return unit_rows(hidden @ self.embed_kernel + self.embed_bias)

    def classify(self, embeddings: np.ndarray) -> dict[str, np.ndarray]:
        """Per attribute, (n, V) class probabilities of (n, dim) embeddings."""
        e = unit_rows(np.atleast_2d(np.asarray(embeddings, dtype=np.float32)))
        return {a: _softmax(self.logit_scale * (e @ unit_rows(self.prototypes[a]).T)) for a in self.attributes}

    # ------------------------------------------------------------------ storage

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, meta=np.array(json.dumps(self._meta())), **self._arrays())
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, where: str = "the head") -> "Head":
        """A validated head; IndexFormatError with a sentence when the bytes are not one."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                meta = json.loads(str(npz["meta"]))
                arrays = {name: npz[name] for name in npz.files if name != "meta"}
            if meta.get("version") != HEAD_VERSION:
                raise ValueError(f"version {meta.get('version')!r} is not {HEAD_VERSION}")
            attributes = {str(a): [str(v) for v in values] for a, values in meta["attributes"].items()}
            head = cls(*(arrays[name].astype(np.float32) for name in _LAYERS),
                       prototypes={a: arrays[f"prototypes/{i}"].astype(np.float32) for i, a in enumerate(attributes)},
                       attributes=attributes, input_dim=int(meta["input_dim"]), colour_dim=int(meta["colour_dim"]),
                       backbone=ModelSpec.from_json(meta["backbone"]),
                       catalog_fingerprint=str(meta["catalog_fingerprint"]),
                       colour_scale=float(meta["colour_scale"]), logit_scale=float(meta["logit_scale"]))
            head._check_shapes()
        except (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError, zipfile.BadZipFile) as exc:
            raise IndexFormatError(f"{where} is corrupt ({exc or 'empty file'}); train it again.") from None
        return head

    def _check_shapes(self) -> None:
        hidden = self.hidden_kernel.shape[1] if self.hidden_kernel.ndim == 2 else -1
        expected = {"hidden_kernel": (self.input_dim + self.colour_dim, hidden), "hidden_bias": (hidden,),
                    "embed_kernel": (hidden, self.dim), "embed_bias": (self.dim,)}
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise ValueError(f"its {name} has shape {getattr(self, name).shape}, not {shape}")
        for attribute, vocabulary in self.attributes.items():
            if self.prototypes[attribute].shape != (len(vocabulary), self.dim):
                raise ValueError(f"its {attribute} classifier does not match its {len(vocabulary)} values")
        if not all(np.isfinite(a).all() for a in self._arrays().values()):
            raise ValueError("it holds NaN or infinite weights")


def read_head(index_dir: Path) -> Head:
    """The head of a trained index folder, refused with a sentence when it is not the one its manifest names."""
    from recommender.index_files import HEAD
    from recommender.manifest import read_manifest

    index_dir = Path(index_dir)
    manifest = read_manifest(index_dir)
    path = index_dir / HEAD
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IndexFormatError(f"Index {index_dir} names a trained head but {HEAD} cannot be read "
                               f"({exc.strerror or exc}); train it again.") from None
    head = Head.from_bytes(data, f"The head {path}")
    if head.id != manifest.model.head:
        raise IndexFormatError(f"The head {path} is {head.id}, not the head {manifest.model.head} its index was "
                               "trained with; train it again.")
    if head.catalog_fingerprint != manifest.catalog.fingerprint or not head.backbone.compatible(
            manifest.model.without_head()):
        raise IncompatibleIndex(f"The head {path} was trained for another catalogue or backbone than index "
                                f"{index_dir}; train it again on this index.")
    return head


class HeadExtractor:
    """A backbone followed by a head: what embeds a query for a trained index (the Extractor protocol)."""

    def __init__(self, base: Extractor, head: Head, appearance_version: int | None = None) -> None:
        if base.dim != head.input_dim or not head.backbone.compatible(base.spec.without_head()):
            raise IncompatibleIndex(f"The head {head.id} was trained on {head.backbone.label} vectors "
                                    f"({head.input_dim} dimensions), not on {base.spec.label} ({base.dim}).")
        self.base = base
        self.head = head
        self.appearance_version = appearance_version  # the colours' definition of the index it serves (None: latest)
        self.spec = replace(base.spec, head=head.id)
        self.input_size = base.input_size
        self.dim = head.dim

    def embed(self, batch: np.ndarray, colours: np.ndarray | None = None) -> np.ndarray:
        """The head's embedding of a batch; `colours`, the batch's colour histograms when the caller has them."""
        raw = unit_rows(self.base.embed(batch))
        if not self.head.colour_dim:
            return self.head.embed(raw)
        if colours is None:
            from recommender.appearance import APPEARANCE_VERSION, describe

            colours = describe(np.asarray(batch), self.appearance_version or APPEARANCE_VERSION).colours
        return self.head.embed(raw, colours)
