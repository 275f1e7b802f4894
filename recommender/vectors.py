"""Unit vectors: what format-3 indexes store and what their queries are compared as.

On unit vectors Euclidean distance orders exactly as cosine similarity (|a - b|^2 = 2 - 2 cos),
so a picture's overall brightness or contrast, which scales CNN activations, stops counting as
difference. One function, so the build, the query side and the trained head agree.
"""

from __future__ import annotations

import numpy as np

__all__ = ["unit_rows"]


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """float32 rows scaled to length 1 (a zero row stays zero); 1-D input is one row."""
    v = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.divide(v, norms, out=np.zeros_like(v), where=norms > 0)
