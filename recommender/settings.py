"""Run-time settings, read from the environment so the CLI, the app and gunicorn agree.

Every setting has a sane default; environment variables override them:
  RECOMMENDER_INDEX           index folder to serve (default: the demo index, built on first run)
  RECOMMENDER_FEEDBACK_DB     SQLite file for thumbs up/down (default: embeddings/feedback.sqlite3)
  RECOMMENDER_FEEDBACK_URL    postgresql://user:password@host/db: votes in PostgreSQL instead (several app servers)
  RECOMMENDER_MAX_UPLOAD_MB   largest accepted upload in MB (default: 10)
  RECOMMENDER_THUMBNAIL_DIR   cache of resized thumbnails (default: embeddings/.thumbnails)
  RECOMMENDER_UPLOAD_DIR      shoppers' query photos, kept (bounded) for re-ranking (default: embeddings/.uploads)
  RECOMMENDER_BACKBONE        backbone of the demo index (default: resnet50)
  RECOMMENDER_WEIGHTS         weights of the demo index: imagenet, none or a file (default: imagenet;
                              offline, the MobileNetV2 TFLite extractor shipped in models/ is used instead)
  RECOMMENDER_SECRET_KEY      signs the shoppers' session cookies (default: made once, beside the feedback database;
                              several app servers sharing PostgreSQL need the same one)
  RECOMMENDER_SECURE_COOKIES  1: session cookies only over HTTPS (set it when the shop is served over HTTPS)
  RECOMMENDER_MERCHANT_TOOLS  1: the merchant's Audit and Trends pages (off by default: shoppers never see them)
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

from recommender.errors import RecommenderError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EMBEDDINGS_DIR = PROJECT_ROOT / "embeddings"


@dataclass(frozen=True)
class Settings:
    index: Path | None = None
    feedback_db: Path = EMBEDDINGS_DIR / "feedback.sqlite3"
    feedback_url: str | None = None  # a PostgreSQL URL; replaces feedback_db when set
    max_upload_bytes: int = 10 * 1024 * 1024
    thumbnail_dir: Path = EMBEDDINGS_DIR / ".thumbnails"
    upload_dir: Path = EMBEDDINGS_DIR / ".uploads"
    demo_catalog: Path = PROJECT_ROOT / "demo" / "catalogue"  # shipped: 691 CC0 photos
    demo_model: Path = PROJECT_ROOT / "models" / "mobilenet_v2_1.0_224_quant.tflite"  # shipped fallback
    demo_index: Path = EMBEDDINGS_DIR / "demo-index"
    backbone: str = "resnet50"
    weights: str = "imagenet"
    secret_key: str | None = None
    secure_cookies: bool = False
    merchant_tools: bool = False  # the Audit and Trends pages

    @classmethod
    def from_env(cls, **overrides: object) -> "Settings":
        """Defaults, then environment variables, then explicit overrides (e.g. CLI flags)."""
        env = os.environ
        settings = cls()
        if env.get("RECOMMENDER_INDEX"):
            settings = replace(settings, index=Path(env["RECOMMENDER_INDEX"]))
        if env.get("RECOMMENDER_FEEDBACK_DB"):
            settings = replace(settings, feedback_db=Path(env["RECOMMENDER_FEEDBACK_DB"]))
        if env.get("RECOMMENDER_FEEDBACK_URL"):
            settings = replace(settings, feedback_url=env["RECOMMENDER_FEEDBACK_URL"])
        if env.get("RECOMMENDER_MAX_UPLOAD_MB"):
            settings = replace(settings, max_upload_bytes=_megabytes(env["RECOMMENDER_MAX_UPLOAD_MB"]))
        if env.get("RECOMMENDER_THUMBNAIL_DIR"):
            settings = replace(settings, thumbnail_dir=Path(env["RECOMMENDER_THUMBNAIL_DIR"]))
        if env.get("RECOMMENDER_UPLOAD_DIR"):
            settings = replace(settings, upload_dir=Path(env["RECOMMENDER_UPLOAD_DIR"]))
        if env.get("RECOMMENDER_BACKBONE"):
            settings = replace(settings, backbone=env["RECOMMENDER_BACKBONE"])
        if env.get("RECOMMENDER_WEIGHTS"):
            settings = replace(settings, weights=env["RECOMMENDER_WEIGHTS"])
        if env.get("RECOMMENDER_SECRET_KEY"):
            settings = replace(settings, secret_key=_secret(env["RECOMMENDER_SECRET_KEY"]))
        if env.get("RECOMMENDER_SECURE_COOKIES"):
            settings = replace(settings, secure_cookies=env["RECOMMENDER_SECURE_COOKIES"].lower() in ("1", "true", "yes"))
        if env.get("RECOMMENDER_MERCHANT_TOOLS"):
            settings = replace(settings, merchant_tools=env["RECOMMENDER_MERCHANT_TOOLS"].lower() in ("1", "true", "yes"))
        clean = {k: v for k, v in overrides.items() if v is not None}
        return replace(settings, **clean)

    @property
    def feedback_target(self) -> str | Path:
        """Where votes are kept: the PostgreSQL URL when one is set, else the SQLite file."""
        return self.feedback_url or self.feedback_db


def _megabytes(text: str) -> int:
    """RECOMMENDER_MAX_UPLOAD_MB as bytes; a typo there is a sentence at start-up, not a traceback."""
    try:
        mb = float(text)
    except ValueError:
        mb = math.nan
    if not (math.isfinite(mb) and mb > 0):
        raise RecommenderError(f"RECOMMENDER_MAX_UPLOAD_MB must be a number of megabytes above 0, not {text!r}.")
    return int(mb * 1024 * 1024)


def _secret(text: str) -> str:
    """RECOMMENDER_SECRET_KEY: long enough that session cookies cannot be forged by guessing it."""
    if len(text) < 32:
        raise RecommenderError("RECOMMENDER_SECRET_KEY must be at least 32 characters long (e.g. the output of "
                               "python -c 'import secrets; print(secrets.token_hex(32))').")
    return text
