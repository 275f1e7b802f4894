"""Load and hostile traffic against the production configuration, on this machine only (127.0.0.1).

Starts `gunicorn app:server` with `gunicorn.conf.py` on a free loopback port over INDEX (or drives a
server already running on loopback with --url), runs USERS simulated shoppers for SECONDS (page,
upload, filter, vote, more like this, more like the liked ones, Back, and the JSON API, driven as
the page's renderer drives them; see recommender/traffic/shopper.py), optionally with slow clients
and pixel-bomb uploaders alongside, stops by itself, and prints JSON:

  requests, requests_per_s, latency_s {p50, p95, p99} (every request), upload_to_results_s (a
  shopper's upload until its results are rendered), errors and examples, actions (what the
  shoppers did that worked, by kind), votes_sent, votes_stored
  (read back from the server's feedback database), worker_rss_mib_peak (sampled every 0.25 s),
  server_log {tracebacks, server_errors (5xx), workers_killed}, and the machine's load.

    python scripts/loadtest.py --index embeddings/kaggle-small-v2 --photos ../shared/data/clothing-small/validation
    python scripts/loadtest.py --index embeddings/kaggle-small-v2 --photos ../shared/data/clothing-small/validation \
        --users 1 --seconds 60 --slow-clients 2 --bombers 4
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recommender.feedback import FeedbackStore  # noqa: E402
from recommender.index_format import read_index, read_manifest  # noqa: E402
from recommender.traffic.server import MIB, ProductionServer  # noqa: E402
from recommender.traffic.shopper import Shopper, Tally, bomb_png, percentiles, pixel_bomber, slow_client  # noqa: E402

MAX_USERS, MAX_SECONDS, MAX_ATTACKERS = 64, 600, 16
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
BOMB_SIDES = (7000, 9400)  # the largest PNG an upload may be (49 MP, decoded), and the 88 MP bomb (refused)


def _photos(folder: Path | None, index: Path | None, most: int = 40) -> list[bytes]:
    """Query photos, spread over what there is: a folder's JPEG and PNG files, else the index's own images."""
    if folder is not None:
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    else:
        files = [p.image for p in read_index(index).products] if index is not None else []
    step = max(1, len(files) // most)
    return [f.read_bytes() for f in files[::step][:most] if f.is_file()]


def _run(base: str, photos: list[bytes], args: argparse.Namespace, server: ProductionServer | None) -> dict:
    tally, attack_tally = Tally(), Tally()
    stop = threading.Event()
    deadline = time.monotonic() + args.seconds
    bombs = [bomb_png(side) for side in BOMB_SIDES] if args.bombers else []
    attackers = ThreadPoolExecutor(max(1, args.slow_clients + args.bombers))
    attacks = [attackers.submit(slow_client, base, stop) for _ in range(args.slow_clients)]
    attacks += [attackers.submit(pixel_bomber, base, bombs, stop, attack_tally) for _ in range(args.bombers)]
    if attacks:
        time.sleep(min(5.0, args.seconds / 4))  # let the attack get going before the shoppers arrive

    def shop(user: int) -> None:
        shopper = Shopper(base, photos, tally, seed=user)
        while time.monotonic() < deadline:
            shopper.visit()

    start = time.perf_counter()
    with ThreadPoolExecutor(args.users) as pool:
        list(pool.map(shop, range(args.users)))
    elapsed = time.perf_counter() - start
    stop.set()
    attack_outcomes = [future.result() for future in attacks]
    attackers.shutdown()
    result = {
        "requests": len(tally.seconds),
        "requests_per_s": round(len(tally.seconds) / elapsed, 1),
        "latency_s": percentiles(tally.seconds),
        "upload_to_results_s": {**percentiles(tally.upload_to_results), "n": len(tally.upload_to_results)},
        "errors": len(tally.errors),
        "error_examples": tally.errors[:5],
        "statuses": tally.statuses,
        "actions": tally.actions,
        "votes_sent": tally.votes_sent,
        "votes_refused": tally.votes_refused,
    }
    if attacks:
        result["attacks"] = {"slow_clients": attack_outcomes[: args.slow_clients],
                             "pixel_bombs_sent": attack_outcomes[args.slow_clients :],
                             "attack_errors": attack_tally.errors[:5]}
    if server is not None:
        result["worker_rss_mib_peak"] = round(max(server.peak_worker_rss, server.worker_rss()) / MIB, 1)
        catalog = read_manifest(args.index).catalog.identity
        result["votes_stored"] = FeedbackStore(server.workdir / "feedback.sqlite3").summary(catalog)["votes"]
        findings = server.findings()
        result["server_log"] = {"tracebacks": findings.tracebacks, "server_errors": findings.server_errors,
                                "workers_killed": findings.workers_killed, "examples": findings.examples}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--index", type=Path, help="serve this index with gunicorn.conf.py for the run")
    where.add_argument("--url", help="a server already running on this machine (no memory or votes read back)")
    parser.add_argument("--photos", type=Path, metavar="DIR", help="a folder of query photos (default: the images "
                        "of --index's catalogue)")
    parser.add_argument("--users", type=int, default=16, help=f"simulated shoppers (1-{MAX_USERS}, default 16)")
    parser.add_argument("--seconds", type=float, default=60, help=f"length of the run (at most {MAX_SECONDS})")
    parser.add_argument("--slow-clients", type=int, default=0, help="POSTs that send a byte every 2 s")
    parser.add_argument("--bombers", type=int, default=0, help="uploaders of pixel bombs (49 MP and 88 MP PNGs)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (with --index)")
    args = parser.parse_args(argv)
    if not (1 <= args.users <= MAX_USERS and 0 < args.seconds <= MAX_SECONDS
            and 0 <= args.slow_clients + args.bombers <= MAX_ATTACKERS):
        parser.error(f"users 1-{MAX_USERS}, seconds up to {MAX_SECONDS}, at most {MAX_ATTACKERS} attackers")
    if args.url and urlsplit(args.url).hostname not in LOOPBACK:
        parser.error("--url must be a server on this machine (127.0.0.1): this kit never sends traffic elsewhere")
    photos = _photos(args.photos, args.index)
    if not photos:
        parser.error("no query photos: give --photos DIR (needed with --url)")
    load = {"users": args.users, "seconds": args.seconds, "slow_clients": args.slow_clients, "bombers": args.bombers,
            "cores": os.cpu_count(), "loadavg_before": [round(x, 2) for x in os.getloadavg()]}
    if args.url:
        result = _run(args.url.rstrip("/"), photos, args, None)
    else:
        with tempfile.TemporaryDirectory(prefix="loadtest-") as work:
            env = {"RECOMMENDER_INDEX": str(args.index.resolve())}
            with ProductionServer(Path(work), env, workers=args.workers) as server:
                result = _run(server.base, photos, args, server)
    load["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps({"load": load, **result}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
