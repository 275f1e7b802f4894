"""`python -m recommender ...` entry point."""

from recommender.cli import main

raise SystemExit(main())
