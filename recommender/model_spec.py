"""Which model made a set of vectors: one value type, free of TensorFlow, used everywhere.

Vectors are only comparable when the same model made them. An index records the `ModelSpec` of
its extractor; a query is embedded by the extractor that spec loads; evaluation, the demo set-up
and the CLI decide "same model?" with `compatible`, never by comparing strings of their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ModelSpec", "KEYWORD_WEIGHTS"]

KEYWORD_WEIGHTS = ("imagenet", "none")  # weights named by a keyword rather than a file


def _is_tflite(text: str) -> bool:
    return text.lower().endswith(".tflite")


def _resolved(text: str) -> str:
    return str(Path(text).expanduser().resolve())


@dataclass(frozen=True)
class ModelSpec:
    """A backbone and its weights, normalised so that equal models give equal specs.

    backbone: a Keras application name in lower case ("resnet50"), or the absolute path of a
      TensorFlow Lite file, which carries its own weights.
    weights: "imagenet", "none" (random, seeded) or the absolute path of a weights file; for a
      TFLite model, the file's path again.
    head: the identity of a trained head applied after the backbone, or None for raw features.
    """

    backbone: str
    weights: str = "imagenet"
    head: str | None = None

    @classmethod
    def parse(cls, backbone: str, weights: str = "imagenet", head: str | None = None) -> "ModelSpec":
        """The spec a user means by `--backbone B --weights W`: names lower-cased, files made absolute.

        A `.tflite` path given as weights names the TFLite file itself (so a manifest's pair reloads it).
        """
        if _is_tflite(backbone) or _is_tflite(weights):
            path = _resolved(weights if _is_tflite(weights) else backbone)
            return cls(path, path, head)
        keyword = weights.lower()
        return cls(backbone.lower(), keyword if keyword in KEYWORD_WEIGHTS else _resolved(weights), head)

    @property
    def is_tflite(self) -> bool:
        return _is_tflite(self.backbone)

    @property
    def random(self) -> bool:
        """Random weights learnt nothing: rankings made with them are not meaningful."""
        return self.weights == "none"

    @property
    def weights_file(self) -> Path | None:
        """The file holding the weights (the TFLite model itself, or a Keras weights file), if any."""
        return None if self.weights in KEYWORD_WEIGHTS else Path(self.weights)

    def compatible(self, other: "ModelSpec") -> bool:
        """Whether the two specs give comparable vectors.

        Files are compared by name, not by folder, so an index moved to another machine (its model
        in another folder) still opens; keywords and Keras names must be equal.
        """

        def key(spec: ModelSpec) -> tuple[str, str, str | None]:
            backbone = Path(spec.backbone).name if spec.is_tflite else spec.backbone
            file = spec.weights_file
            return backbone, file.name if file is not None else spec.weights, spec.head

        return key(self) == key(other)

    def without_head(self) -> "ModelSpec":
        return ModelSpec(self.backbone, self.weights)

    def _parts(self) -> tuple[str, str | None]:
        """(model name, weights qualifier or None for the usual ImageNet / built-in weights)."""
        if self.is_tflite:
            return Path(self.backbone).stem, None
        if self.weights == "imagenet":
            return self.backbone, None
        return self.backbone, "random" if self.random else Path(self.weights).stem

    @property
    def label(self) -> str:
        """A short readable name for tables and messages: `mobilenet_v2_1.0_224_quant`, `resnet50 (random)`."""
        name, qualifier = self._parts()
        text = name if qualifier is None else f"{name} ({qualifier})"
        return text if self.head is None else f"{text} + head {self.head}"

    @property
    def slug(self) -> str:
        """The label as one file-name-safe word, for cache folders and default output names."""
        parts = [*filter(None, self._parts()), *(("head", self.head) if self.head else ())]
        return re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(parts))

    def to_json(self) -> dict[str, Any]:
        return {"backbone": self.backbone, "weights": self.weights, "head": self.head}

    @classmethod
    def from_json(cls, data: Any) -> "ModelSpec":
        """From a manifest's `model` object; ValueError when it is not one."""
        if not isinstance(data, dict):
            raise ValueError("the model is not an object")
        backbone, weights, head = data.get("backbone"), data.get("weights"), data.get("head")
        if not isinstance(backbone, str) or not backbone or not isinstance(weights, str) or not weights:
            raise ValueError("the model's backbone and weights must be non-empty texts")
        if head is not None and not isinstance(head, str):
            raise ValueError("the model's head must be a text or null")
        return cls(backbone, weights, head)
