"""The hostile-traffic kit: the production server started as documented, and clients that drive it.

  server      `gunicorn app:server` with `gunicorn.conf.py` on a free loopback port, its workers'
              memory sampled, its log scanned for tracebacks, HTTP 500s and killed workers
  dash_client the page's own protocol (Dash's `_dash-update-component`), as a browser speaks it
  shopper     a simulated shopper: upload, filter, more like this, vote, and the JSON API

Used by `scripts/loadtest.py` (load figures) and `tests/test_hostile.py` (the hostile corpus).
Traffic only ever goes to 127.0.0.1.
"""
