"""Visual fashion recommender: catalogue -> embeddings -> index -> query.

The core library knows nothing about Dash; the web app lives in `recommender.ui`.
"""

__version__ = "0.1.0"
