"""Retrieval quality of an index, measured against the catalogue's own labels.

`metrics` holds the pure scoring functions, `run` applies them to indexes through the index's own
search, `report` turns the results into a table, JSON and a chart.
"""
