"""What `dcc.Upload` sends: a data URL, or (when the browser found the file too large) only its size."""

from __future__ import annotations

import base64
import binascii

from recommender.errors import ImageError
from recommender.images import size_error

__all__ = ["decode_upload", "too_large"]


def decode_upload(contents: str) -> bytes:
    """The bytes of a `dcc.Upload` data URL ("data:<type>;base64,<data>")."""
    _, sep, payload = contents.partition(",")
    if not sep:
        raise ImageError("The upload did not arrive complete; please try again.")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ImageError("The upload did not arrive complete; please try again.") from None


def too_large(size: object, limit: int) -> ImageError:
    """The error for an upload the browser measured and held back (its size is the browser's word)."""
    return size_error(size, limit)
