"""Run-time settings: the one reader of every `RECOMMENDER_*` environment variable.

`VARIABLES` declares each variable (name, default, type, meaning); `Settings.from_env()` reads them
all at start-up, so the CLI, the app, the ranking and gunicorn agree, and a bad value is one sentence
(a RecommenderError: status 2) before anything is served. The README's table is `markdown_table()`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from recommender.errors import RecommenderError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EMBEDDINGS_DIR = PROJECT_ROOT / "embeddings"
RANKING_PREFIX = "RECOMMENDER_RANKING_"


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
    merchant_tools: bool = False  # the Feedback, Trends and Audit pages
    bind: str = "127.0.0.1:8050"  # gunicorn's address
    worker_max_mb: int = 2048  # gunicorn replaces a worker whose resident memory passes this
    ranking: tuple[tuple[str, float | None], ...] = ()  # RankingSettings fields set by RECOMMENDER_RANKING_*

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        """Defaults, then environment variables, then explicit overrides (e.g. CLI flags)."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        ranking: list[tuple[str, float | None]] = []
        for variable in VARIABLES:
            text = env.get(variable.name)
            if text is None or (text == "" and not variable.field.startswith("ranking.")):  # "" is unset, or "off"
                continue
            value = variable.parse(text, variable.name)
            if variable.field.startswith("ranking."):
                ranking.append((variable.field.removeprefix("ranking."), value))  # type: ignore[arg-type]
            else:
                values[variable.field] = value
        clean = {k: v for k, v in overrides.items() if v is not None}
        return replace(cls(**values, ranking=tuple(ranking)), **clean)  # type: ignore[arg-type]

    @property
    def feedback_target(self) -> str | Path:
        """Where votes are kept: the PostgreSQL URL when one is set, else the SQLite file."""
        return self.feedback_url or self.feedback_db


def _text(text: str, name: str) -> str:
    return text


def _path(text: str, name: str) -> Path:
    return Path(text)


def _switch(text: str, name: str) -> bool:
    return text.lower() in ("1", "true", "yes")


def _megabytes(text: str, name: str) -> int:
    """Megabytes as bytes; a typo there is a sentence at start-up, not a traceback."""
    try:
        mb = float(text)
    except ValueError:
        mb = math.nan
    if not (math.isfinite(mb) and mb > 0):
        raise RecommenderError(f"{name} must be a number of megabytes above 0, not {text!r}.")
    return int(mb * 1024 * 1024)


def _whole_megabytes(text: str, name: str) -> int:
    if not text.strip().isascii() or not text.strip().isdigit() or int(text) < 1:
        raise RecommenderError(f"{name} must be a whole number of megabytes above 0, not {text!r}.")
    return int(text)


def _secret(text: str, name: str) -> str:
    """Long enough that session cookies cannot be forged by guessing it."""
    if len(text) < 32:
        raise RecommenderError(f"{name} must be at least 32 characters long (e.g. the output of "
                               "python -c 'import secrets; print(secrets.token_hex(32))').")
    return text


def _number(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise RecommenderError(f"{name}={text!r} is not a number.")
    return value


def _count(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise RecommenderError(f"{name}={text!r} is not a number.") from None


def _number_or_off(text: str, name: str) -> float | None:
    return None if text.strip().lower() in ("off", "none", "") else _number(text, name)


@dataclass(frozen=True)
class Variable:
    """One environment variable: what it sets, its default as the README says it, and what it means."""

    name: str
    field: str  # a Settings field, or "ranking.<RankingSettings field>"
    kind: str
    default: str
    meaning: str
    parse: Callable[[str, str], object]


def _ranking(field: str, kind: str, default: str, meaning: str, parse: Callable[[str, str], object]) -> Variable:
    return Variable(RANKING_PREFIX + field.upper(), f"ranking.{field}", kind, default, meaning, parse)


VARIABLES: tuple[Variable, ...] = (
    Variable("RECOMMENDER_INDEX", "index", "folder", "the demo index (built on first run)",
             "index folder to serve", _path),
    Variable("RECOMMENDER_FEEDBACK_DB", "feedback_db", "file", "`embeddings/feedback.sqlite3`",
             "SQLite file of the votes (thumbs up/down) and of the results shown", _path),
    Variable("RECOMMENDER_FEEDBACK_URL", "feedback_url", "URL", "unset",
             "`postgresql://user:password@host:5432/db`: votes in PostgreSQL instead, for several app servers "
             "(`pip install -r requirements-scale.txt`)", _text),
    Variable("RECOMMENDER_MAX_UPLOAD_MB", "max_upload_bytes", "number", "10", "largest accepted upload, in MB",
             _megabytes),
    Variable("RECOMMENDER_THUMBNAIL_DIR", "thumbnail_dir", "folder", "`embeddings/.thumbnails`",
             "cache of resized thumbnails", _path),
    Variable("RECOMMENDER_UPLOAD_DIR", "upload_dir", "folder", "`embeddings/.uploads`",
             "shoppers' query photos (1024 px) and their vectors, kept bounded so every worker can re-rank, "
             "show and vote on them", _path),
    Variable("RECOMMENDER_BACKBONE", "backbone", "text", "resnet50", "backbone of the demo index", _text),
    Variable("RECOMMENDER_WEIGHTS", "weights", "text", "imagenet",
             "weights of the demo index: imagenet, none or a file (offline: the shipped MobileNetV2 TFLite)", _text),
    Variable("RECOMMENDER_SECRET_KEY", "secret_key", "text (32+)", "made once into `secret-key` beside the "
             "feedback database", "signs the shoppers' session cookies; app servers sharing PostgreSQL need the "
             "same one", _secret),
    Variable("RECOMMENDER_SECURE_COOKIES", "secure_cookies", "1/0", "0",
             "session cookies over HTTPS only (set it when the shop is served over HTTPS)", _switch),
    Variable("RECOMMENDER_MERCHANT_TOOLS", "merchant_tools", "1/0", "0",
             "the merchant's Feedback, Trends and Audit pages (off: shoppers get neither their links, their pages nor "
             "the export; a page's address says it is the staff's, with a link back to the search)", _switch),
    Variable("RECOMMENDER_BIND", "bind", "host:port", "127.0.0.1:8050",
             "where gunicorn listens (`gunicorn.conf.py`)", _text),
    Variable("RECOMMENDER_WORKER_MAX_MB", "worker_max_mb", "whole number", "2048",
             "gunicorn replaces a worker whose resident memory passes this many MB", _whole_megabytes),
    _ranking("candidates", "whole number", "100", "visual neighbours re-scored", _count),
    _ranking("category_weight", "number", "1.5", "weight of the head's category probability", _number),
    _ranking("label_weight", "number", "0.5", "weight of the head's colour and gender probabilities", _number),
    _ranking("age_weight", "number", "0.5", "weight of the head's age-group probability", _number),
    _ranking("colour_weight", "number", "0 with a colour head, else 0.5",
             "weight of the foreground colour overlap", _number),
    _ranking("hub_weight", "number", "0.5", "penalty of items close to everything", _number),
    _ranking("category_first", "number or off", "0.5",
             "probability mass the likely kinds (at most 3) must hold to lead", _number_or_off),
    _ranking("mix_sharpness", "number", "2", "likely kinds share the first places in proportion to p to this power",
             _number),
)


def markdown_table() -> str:
    """The README's table of every variable, made from `VARIABLES` so the two cannot drift."""
    rows = [f"| `{v.name}` | {v.kind} | {v.default} | {v.meaning} |" for v in VARIABLES]
    return "\n".join(["| variable | type | default | meaning |", "| --- | --- | --- | --- |", *rows])
