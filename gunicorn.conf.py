"""Production settings for `gunicorn app:server`, read from this file (gunicorn looks for it here).

Threaded workers (gunicorn's `gthread`, extended in `recommender/ui/worker.py`): a slow client never
holds the whole worker, and the worker's heartbeat runs on its own thread, so slow uploads and slow
reads do not get workers killed; request headers are read by the worker's event loop, so a client
trickling them holds no thread (and gets a 408 after 10 s). The app itself refuses bodies that are too large for their route or arrive too
slowly (`recommender/ui/limits.py`); in front of it, the README's nginx set-up buffers whole
requests so that slow clients never reach a worker at all.

Every value can be overridden on the command line (`gunicorn -w 4 -b 0.0.0.0:8050 app:server`) or
with GUNICORN_CMD_ARGS; the app's own settings come from RECOMMENDER_* variables (see the README).
"""

import ctypes
import logging
import os
import subprocess
import sys

from gunicorn.glogging import CONFIG_DEFAULTS

from recommender.errors import RecommenderError
from recommender.settings import Settings

try:
    SETTINGS = Settings.from_env()  # the one reader of RECOMMENDER_* variables
except RecommenderError as exc:  # a bad value: one sentence and status 2, before any worker starts
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(2)

wsgi_app = "app:server"
bind = SETTINGS.bind  # behind the reverse proxy, on loopback

# 2 workers (one per core of a small server), 8 threads each: threads wait on the network and on
# SQLite; the model and the kNN release the interpreter lock while they compute.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "recommender.ui.worker.GatedThreadWorker"  # gthread, with request headers read off the threads
threads = 8
worker_connections = 200  # open connections per worker, kept-alive ones included

timeout = 60  # seconds without a heartbeat before a worker is killed (its main loop, not a request)
graceful_timeout = 30  # a restarting worker finishes its requests for up to this long
keepalive = 5

# Request line and headers: what a browser sends, with room to spare (ids in URLs are at most 256 characters).
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190

# A worker is replaced, gracefully, after this many requests (jittered so that both never restart
# at once): a bound on any slow leak. Each restart reloads the model, so not too often.
max_requests = 10_000
max_requests_jitter = 1_000

# A worker whose resident memory passes this is replaced after its current request.
WORKER_MAX_MB = SETTINGS.worker_max_mb

M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8  # glibc's mallopt parameters (malloc.h)

worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # heartbeat file off the disk
preload_app = False  # each worker loads its own model: TensorFlow does not survive a fork
control_socket_disable = True  # gunicorn 25+: no run-time control socket (one per user, shared by every instance)

# The app's own log lines (refused requests, failed callbacks) with gunicorn's on standard error,
# each once; the access log on standard output.
logconfig_dict = {
    **CONFIG_DEFAULTS,
    "root": {"level": "WARNING", "handlers": ["error_console"]},
    "loggers": {
        **{name: {**logger, "propagate": False} for name, logger in CONFIG_DEFAULTS["loggers"].items()},
        "recommender": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
    },
}


def on_starting(server):
    """Check the index, the feedback database and the secret key once, before any worker starts."""
    done = subprocess.run([sys.executable, "-m", "recommender.ui.preflight"], check=False)
    if done.returncode != 0:
        sys.exit(done.returncode)


def post_fork(server, worker):
    """glibc's allocator in each worker: big buffers (decoded photos) are mapped from the system and given
    straight back when freed, and two arenas, not sixteen per core, keep freed memory: resident memory
    then follows what the worker uses instead of the worst moment of its past."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: its defaults stay
        return
    libc.mallopt(M_MMAP_THRESHOLD, 1024 * 1024)
    libc.mallopt(M_ARENA_MAX, 2)


def post_request(worker, req, environ, resp):
    """Replace a worker that has grown past WORKER_MAX_MB, once its current request is answered."""
    import psutil

    rss_mb = psutil.Process().memory_info().rss / 2**20
    if rss_mb > WORKER_MAX_MB and worker.alive:
        logging.getLogger("gunicorn.error").warning(
            "worker %s uses %.0f MB, more than RECOMMENDER_WORKER_MAX_MB=%d: replacing it", worker.pid, rss_mb,
            WORKER_MAX_MB)
        worker.alive = False
