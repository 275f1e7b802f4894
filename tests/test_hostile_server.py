"""What hits the server rather than the page, against the production configuration (tests/hostile_kit.py):
slow clients (bodies and headers, with and without nginx in front), the connection after a refused body,
the vote database removed under the running server, and odd requests to the JSON API. After every test
the server's log holds no traceback, no 5xx answer and no killed worker.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from recommender.settings import PROJECT_ROOT
from bench.traffic.dash_client import DashPage
from bench.traffic.server import ProductionServer, free_port
from bench.traffic.shopper import UPLOAD, Tally, TimedSession, slow_client
from recommender.ui.worker import HEADER_TIMEOUT_S
from tests.hostile_kit import (  # noqa: F401 (fixtures)
    CALLBACK,
    clean_log,
    data_url,
    hostile_index,
    photo_bytes,
    searched,
    server,
    vote_on,
)


def test_a_vanished_vote_database_is_a_plain_sentence(server: ProductionServer) -> None:
    """The vote database removed under the running server: searches still answer, a vote is refused in a plain
    sentence (not the file's name and SQLite's words), no worker dies, and nothing makes an empty file there."""
    page, states = searched(server)
    db = server.workdir / "feedback.sqlite3"
    away = server.workdir / "moved-away.sqlite3"
    db.rename(away)
    try:
        shown = states[0]
        stored, message = vote_on(page, shown["id"], {"vote": 0, "rank": shown["rank"], "distance": shown["distance"]})
        assert stored is None and message == "Your vote was not saved: votes cannot be saved right now; please try " \
                                              "again in a moment", message
        searched(server)  # the results matter more than voting on them
        assert not db.exists()
    finally:
        away.rename(db)
    assert "feedback database feedback.sqlite3 cannot be used" in server.log_text()  # the log keeps the detail


def test_the_api_answers_odd_requests_in_one_json_sentence(server: ProductionServer) -> None:
    """The small ones of the second hardening round, through the production server."""
    api = f"{server.base}/api"
    photo = {"photo": ("p.jpg", photo_bytes(), "image/jpeg")}
    for method, path, status in [("PUT", "/search", 405), ("DELETE", "/similar/x", 405),
                                 ("GET", "/similar/x%0D%0A", 404), ("GET", "/similar/%0D%0Ax", 404)]:
        response = requests.request(method, f"{api}{path}", timeout=30)
        assert response.status_code == status and set(response.json()) == {"error"}, (method, path, response.text)
    for k in (" 5", "\u0665", "+5"):
        response = requests.post(f"{api}/search", files=photo, data={"k": k}, timeout=30)
        assert response.status_code == 400 and response.json()["error"].startswith("k must be a whole number"), k
    parts = requests.post(f"{api}/search", files=photo, data={"filter": ["colour=Black"] * 1_500}, timeout=30)
    assert parts.status_code == 413 and "MB" not in parts.json()["error"]
    for fmt in ("GIF", "BMP", "TIFF"):
        response = requests.post(f"{api}/search", files={"photo": ("p", photo_bytes(fmt=fmt), "image/x")}, timeout=30)
        assert response.status_code == 400 and "please use a JPEG, PNG, WebP or HEIC photo" in response.json()["error"]


def test_slow_clients_neither_stall_the_shop_nor_get_workers_killed(server: ProductionServer) -> None:
    stop = threading.Event()
    outcomes: list[dict] = []
    attackers = [threading.Thread(target=lambda: outcomes.append(slow_client(server.base, stop, every_s=2.0)))
                 for _ in range(2)]
    for attacker in attackers:
        attacker.start()
    try:
        time.sleep(3)  # both slow bodies are being read now
        tally = Tally()
        http = TimedSession(tally)
        for _ in range(10):
            assert http.get(f"{server.base}/", timeout=10).status_code == 200
        assert max(tally.seconds) < 5  # answered meanwhile (the set-up stalled a GET for 34 s)
        time.sleep(10)  # past the grace period: the pace check cuts the slow bodies off with a 408
    finally:
        stop.set()
        for attacker in attackers:
            attacker.join()
    assert [o["answered"] >= 1 for o in outcomes] == [True, True]


def test_slow_headers_neither_take_the_threads_nor_stay(server: ProductionServer) -> None:
    """More clients trickling their request headers than the server has threads (2 workers x 8): the shop
    answers meanwhile, and each trickler is answered 408 and closed after the header timeout."""
    stop = threading.Event()
    outcomes: list[dict] = []
    attackers = [threading.Thread(target=lambda: outcomes.append(slow_client(server.base, stop, every_s=1.0,
                                                                             part="headers")))
                 for _ in range(20)]
    for attacker in attackers:
        attacker.start()
    try:
        time.sleep(3)  # every trickler has sent its request line and is sending a header a byte a second
        tally = Tally()
        http = TimedSession(tally)
        for _ in range(10):
            assert http.get(f"{server.base}/", timeout=10).status_code == 200
        assert max(tally.seconds) < 5
        time.sleep(HEADER_TIMEOUT_S)
    finally:
        stop.set()
        for attacker in attackers:
            attacker.join()
    assert all(o["answered"] >= 1 for o in outcomes), outcomes
    assert server.log_text().count("request headers too slow") >= 20


def test_a_trickle_behind_a_pipelined_request_takes_no_thread_either(server: ProductionServer) -> None:
    """17 clients (more than the 16 threads) each send a whole request and the start of a second one in one
    packet, then the rest of the second a byte a second: the page answers meanwhile, and each gets its 408."""
    clients = [socket.create_connection(("127.0.0.1", server.port), timeout=30) for _ in range(17)]
    try:
        for sock in clients:
            sock.sendall(b"GET /api/nothing HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        started = time.monotonic()
        while time.monotonic() - started < 4:
            for sock in clients:
                sock.sendall(b"x")
            time.sleep(1.0)
        assert requests.get(f"{server.base}/", timeout=10).status_code == 200
        time.sleep(HEADER_TIMEOUT_S)
        for sock in clients:
            received = b""
            while chunk := sock.recv(65536):  # until the server closes the connection
                received += chunk
            assert re.findall(rb"HTTP/1\.1 (\d{3}) ", received) == [b"404", b"408"], received[-300:]
    finally:
        for sock in clients:
            sock.close()


def test_headers_in_pieces_and_pipelined_requests_are_answered(server: ProductionServer) -> None:
    """The worker reads headers itself: headers arriving in pieces within the timeout, a second request on a
    kept-alive connection, and two requests sent in one packet are all answered, in order."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        for piece in (b"GET /api/similar/nope HTTP/1.1\r\n", b"Host: x\r\nX-A: 1", b"\r\n\r\n"):
            sock.sendall(piece)
            time.sleep(1.0)
        sock.sendall(b"GET /api/nothing HTTP/1.1\r\nHost: x\r\n\r\nGET /api/similar/x HTTP/1.1\r\nHost: x\r\n"
                     b"Connection: close\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", received)
    assert statuses == [b"404"] * 3 and received.count(b'{"error":') == 3, received[:500]
    assert b"No product with id 'nope'" in received and received.rindex(b"'x'") > received.index(b"no such API")


def test_after_a_refused_body_the_connection_closes_saying_so(server: ProductionServer) -> None:
    """A body refused unread (413) ends its connection with `Connection: close`, so the client's next request
    goes on a new connection and is answered (announcing keep-alive left it unanswered half of the time)."""
    for _ in range(10):
        http = requests.Session()
        refused = http.post(f"{server.base}{CALLBACK}", data=b"x" * 2**20, timeout=30,
                            headers={"Content-Type": "application/json"})
        assert refused.status_code == 413 and refused.headers["Connection"] == "close"
        assert http.get(f"{server.base}/", timeout=10).status_code == 200


NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


@pytest.fixture
def nginx(server: ProductionServer, tmp_path: Path):
    """deploy/nginx.conf, as the README recommends it, in front of the server (on its own free port)."""
    if NGINX is None:
        pytest.skip("nginx is not installed (scripts/setup.sh --test installs Debian's nginx-light)")
    port = free_port()
    site = (PROJECT_ROOT / "deploy" / "nginx.conf").read_text()
    assert "server 127.0.0.1:8050;" in site and "listen 80;" in site
    site = site.replace("server 127.0.0.1:8050;", f"server 127.0.0.1:{server.port};")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    (tmp_path / "site.conf").write_text(site)
    temp = {name: tmp_path / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for folder in temp.values():
        folder.mkdir()
    (tmp_path / "nginx.conf").write_text(f"""
daemon off;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {tmp_path}/access.log;
    client_body_temp_path {temp['body']};
    proxy_temp_path {temp['proxy']};
    fastcgi_temp_path {temp['fastcgi']};
    uwsgi_temp_path {temp['uwsgi']};
    scgi_temp_path {temp['scgi']};
    include {tmp_path}/site.conf;
}}
""")
    proc = subprocess.Popen([NGINX, "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if requests.get(f"{base}/", timeout=5).status_code == 200:
                break
        except requests.RequestException:
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else ""
            time.sleep(0.1)
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_behind_nginx_slow_clients_never_reach_a_worker(server: ProductionServer, nginx: str) -> None:
    posts_before = server.log_text().count('"POST /_dash-update-component')
    stop = threading.Event()
    outcomes: list[dict] = []
    attackers = [threading.Thread(target=lambda: outcomes.append(slow_client(nginx, stop, every_s=2.0)))
                 for _ in range(2)]
    for attacker in attackers:
        attacker.start()
    try:
        time.sleep(3)
        page = DashPage(nginx, requests.Session())
        page.open("/")  # the whole page, through nginx, meanwhile
        assert page.set(*UPLOAD, {"filename": "photo.jpg", "contents": data_url(photo_bytes())})
        time.sleep(4)
    finally:
        stop.set()
        for attacker in attackers:
            attacker.join()
    time.sleep(1)
    assert [o["bytes"] >= 3 for o in outcomes] == [True, True], outcomes  # they kept sending all along
    # nginx holds the slow bodies (no rate limit on them, but no worker thread either): none reached gunicorn.
    assert server.log_text().count('"POST /_dash-update-component') - posts_before == len(page.exchanges)
