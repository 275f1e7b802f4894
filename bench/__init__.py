"""Speed and memory benchmarks: the project's pipeline and index measured side by side with the
baselines most public fashion recommenders use, in one run, so that a noisy shared machine shifts
both sides alike and the ratios stay meaningful.

Sections (`run.run_benchmark` runs them; each measuring function returns a JSON-ready dict, so
tests can run them tiny):
  machine     cores, CPU model, memory, load, the BLAS numpy uses           (`machine`)
  matmul      the machine's float32 matrix-multiply rate, the yardstick for "fraction of peak"
  embedding   images/s of `embed_sources` vs a `load_img` + `model.predict` loop, one image at a
              time                                                           (`embedding`)
  query       latency of one upload's forward pass, and of kNN top-k (with and without filters)
              through `Index.search` on a memory-mapped index vs scikit-learn (`knn`)
  build       wall time of `python -m recommender build` as a user runs it   (`jobs`)
  app         `app.py` cold start, its resident memory, one photo query      (`app_probe`)
  look        shop the look (every garment's results) beside a single photo search, on a trained
              index and real photos                                          (`look`)
  ann         FAISS approximate search vs exact: 44k real vectors, 1M and 10M synthetic ones drawn
              from them (latency, recall@10, memory, build time)             (`ann`)
The targets and the terminal table are in `report`, the timing helpers in `timing`.

This file imports nothing, so the CLI can list the sections without loading the measuring code.
"""

SECTIONS = ("machine", "matmul", "embedding", "query", "build", "app", "look", "ann")
