"""The search page's parts: its layout, the callbacks that change the search (URL), those that draw
it, the votes, and the scripts that run in the browser. `recommender/ui/pages/search.py` wires them."""
