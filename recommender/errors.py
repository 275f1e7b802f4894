"""Errors a user can act on. Their message is one sentence shown as is (no traceback)."""


class RecommenderError(Exception):
    """Base class for expected, user-facing errors."""


class CatalogError(RecommenderError):
    """The catalogue cannot be read: unknown layout, empty, missing file."""


class ImageError(RecommenderError):
    """An image cannot be used: not an image, truncated, too large, a decompression bomb."""


class WeightsUnavailable(RecommenderError):
    """Pretrained weights cannot be loaded (e.g. no network for the ImageNet download)."""


class IndexFormatError(RecommenderError):
    """An index folder is missing, incomplete, or does not match its manifest."""


class IncompatibleIndex(RecommenderError):
    """The query side (backbone, weights, dimension) does not match the index."""


class ServerFault(RecommenderError):
    """Something of the server's own failed (its vote database was made read-only or removed): the
    message, which names it, is for the operator's log; a shopper is told only that it failed."""
