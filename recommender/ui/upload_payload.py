"""What `dcc.Upload` sends: a data URL, or (when the browser found the file too large) only its size."""

from __future__ import annotations

import base64
import binascii

from recommender.errors import ImageError
from recommender.images import MIB

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


def too_large(size: int, limit: int) -> ImageError:
    """The error for an upload the browser measured and held back (same wording as the server's check)."""
    return ImageError(f"The file is {size / MIB:.1f} MB, more than the {limit / MIB:.1f} MB limit for images."
                      .replace(".0 MB", " MB"))
