"""Thumbs up/down from shoppers: an append-only vote log per catalogue, in SQLite or PostgreSQL.

`schema` says what a vote is and holds the tables, `backends` where they live (an SQLite file, the
embedded default, or a PostgreSQL database that several app servers share), `store` the
`FeedbackStore` that records what was shown and the votes on it, and the analytics.
"""

from recommender.feedback.backends import BUSY, is_database_url
from recommender.feedback.schema import (
    MAX_RANK,
    SCHEMA_VERSION,
    DayVotes,
    ItemTotals,
    Rate,
    ShownResult,
    VoteEvent,
)  # fmt: skip
from recommender.feedback.store import SHOWN_PER_SESSION, SHOWN_TTL_S, FeedbackStore

__all__ = [
    "BUSY", "MAX_RANK", "SCHEMA_VERSION", "SHOWN_PER_SESSION", "SHOWN_TTL_S", "DayVotes", "FeedbackStore",
    "ItemTotals", "Rate", "ShownResult", "VoteEvent", "is_database_url",
]  # fmt: skip
