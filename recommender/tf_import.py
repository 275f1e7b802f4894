"""TensorFlow and Keras imported quietly, once, by whoever needs them (the extractors, the head's training).

TensorFlow's C++ side writes notices (oneDNN, XNNPACK, CPU features) straight to file descriptor 2,
which TF_CPP_MIN_LOG_LEVEL no longer hides; a CLI that prints one sentence per problem must not
open with a screen of them.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["quiet_native_stderr", "import_tensorflow", "import_keras"]


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence what C++ libraries write straight to file descriptor 2 (TensorFlow's oneDNN notice
    at import, TFLite's "Created XNNPACK delegate"): TF_CPP_MIN_LOG_LEVEL no longer hides them."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow() -> Any:
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with quiet_native_stderr():
            import tensorflow  # noqa: F401  (quietly, before keras would import it noisily)
    import tensorflow

    return tensorflow


def import_keras() -> Any:
    import_tensorflow()
    import keras

    return keras
