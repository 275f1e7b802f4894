"""A shopper's actions timed in Chromium: upload, "Show more" and a box dragged on the photo, each to its results drawn.

Usage: python scripts/browser_probe.py --index INDEX --photos DIR [--n 10] [--port 8071] [--json]

Starts the app on 127.0.0.1 (`python app.py --index INDEX`), opens the search page in Debian's headless
Chromium, uploads one photo to warm the model up (not counted), then for each of N different photos:
uploads it, drags a box on it, and clicks "Show more" up to 100 results. Each action is timed inside
the browser: from the event that starts it (the file input's change, the click, the mouse button released
after the drag) to the moment the results area holds the new results (the URL has changed, and the
heading, the count or the result cards with it), so the upload, decoding, embedding, ranking, thumbnails' markup and React's redraw all
count. Prints p50, p95 and max per action with the machine's load; stops the server it started.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from functools import partial
from pathlib import Path

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from screenshot import _driver  # noqa: E402 - the same headless Chromium set-up

TARGET_P50_S = 1.0
START_WAIT_S = 120
ACTIONS = ("upload", "show more", "crop")

# Starts a clock on the event that begins an action (capture phase, before the page's own handlers) and
# stops it at the first change of the results area that shows other results under another URL.
INSTRUMENT_JS = """
const cards = () => [document.getElementById("results-title"), document.getElementById("results-count")]
    .map(e => e && e.textContent).join("|")
    + [...document.querySelectorAll("#results-area .product-card .more-btn")].map(b => b.id).join();
window.__probe = {start: null, end: null};
const begin = () => {
    window.__probe = {start: performance.now(), end: null, hash: window.location.hash, cards: cards()};
};
document.addEventListener("change", e => { if (e.target.matches("#upload input[type=file]")) begin(); }, true);
document.addEventListener("click", e => { if (e.target.closest("#show-more")) begin(); }, true);
document.addEventListener("mouseup", e => { if (e.target.closest(".region-graph")) begin(); }, true);
new MutationObserver(() => {
    const p = window.__probe;
    if (p.start !== null && p.end === null && window.location.hash !== p.hash
            && document.querySelector("#results-area .rank-badge") && cards() !== p.cards) {
        p.end = performance.now();
    }
}).observe(document.getElementById("results-area"), {childList: true, subtree: true});
"""


def _wait_for_server(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_WAIT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the app stopped at start-up (exit {process.returncode}); see its log (--workdir)")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the app did not answer at {url} within {START_WAIT_S} s")


def _timed(driver, act, timeout: float) -> float:
    """Seconds from the action's first event to its results drawn (see INSTRUMENT_JS)."""
    driver.execute_script("window.__probe = {start: null, end: null};")
    act()
    WebDriverWait(driver, timeout).until(lambda d: d.execute_script("return window.__probe.end !== null;"),
                                         f"no new results {timeout} s after {act.func.__name__}")
    probe = driver.execute_script("return window.__probe;")
    return (probe["end"] - probe["start"]) / 1000.0


def _upload(driver, photo: Path) -> None:
    driver.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(photo.resolve()))


def _show_more(driver) -> None:
    driver.execute_script("document.getElementById('show-more').click();")


def _crop(driver) -> None:
    """A box over the middle of the photo (in proportion to its size), dragged as a mouse would."""
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(CURRENT_PICTURE_JS))
    time.sleep(0.5)  # Plotly binds its drag handlers once the new figure is drawn; a hand is not that quick
    plot = driver.find_element(By.CSS_SELECTOR, ".region-graph .nsewdrag")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", plot)
    width, height = plot.size["width"], plot.size["height"]
    ActionChains(driver).move_to_element(plot).move_by_offset(-width // 4, -height // 4).click_and_hold() \
        .pause(0.1).move_by_offset(width // 8, height // 8).pause(0.1).move_by_offset(width // 4, height // 4) \
        .release().perform()


# the picture drawn is the current upload's (the previous one's stays until it is replaced)
CURRENT_PICTURE_JS = """
const image = document.querySelector(".region-graph image");
const ref = (window.location.hash.match(/s=upload:([0-9a-f]+)/) || [])[1];
return Boolean(image && ref && (image.getAttribute("href") || "").includes(ref)
               && document.querySelector(".region-graph .nsewdrag"));
"""


def _stats(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"n": len(ordered), "p50_s": round(statistics.median(ordered), 3),
            "p95_s": round(ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))], 3),
            "max_s": round(ordered[-1], 3)}


def probe(index: Path, photos: list[Path], port: int, workdir: Path) -> dict[str, object]:
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "RECOMMENDER_UPLOAD_DIR": str(workdir / "uploads"),
           "RECOMMENDER_FEEDBACK_DB": str(workdir / "votes.sqlite3"),
           "RECOMMENDER_THUMBNAIL_DIR": str(workdir / "thumbs")}
    workdir.mkdir(parents=True, exist_ok=True)
    log = open(workdir / "app.log", "w")  # the server's request log, kept out of the report
    server = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--index", str(index), "--port", str(port)],
                              env=env, stdout=log, stderr=log)
    driver = None
    times: dict[str, list[float]] = {action: [] for action in ACTIONS}
    to_100: list[float] = []
    try:
        _wait_for_server(url, server)
        driver = _driver(1280, 900)
        driver.get(url)
        WebDriverWait(driver, START_WAIT_S).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".product-card"))
        driver.execute_script(INSTRUMENT_JS)
        warm = _timed(driver, partial(_upload, driver, photos[0]), START_WAIT_S)  # loads the model: not counted
        for photo in photos[1:]:
            times["upload"].append(_timed(driver, partial(_upload, driver, photo), 60))
            times["crop"].append(_timed(driver, partial(_crop, driver), 60))
            while driver.find_elements(By.ID, "show-more"):
                times["show more"].append(_timed(driver, partial(_show_more, driver), 60))
            to_100.append(times["show more"][-1])
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        server.wait(timeout=30)
        log.close()
    actions = {action: _stats(values) for action, values in times.items() if values}
    if to_100:
        actions["show more, to 100"] = _stats(to_100)
    return {
        "index": str(index), "photos": len(photos) - 1, "first_upload_s": round(warm, 3), "actions": actions,
        "target_p50_s": TARGET_P50_S, "met": all(a["p50_s"] < TARGET_P50_S for a in actions.values()),
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True, help="index folder to serve")
    parser.add_argument("--photos", type=Path, required=True, help="folder of query photos (searched recursively)")
    parser.add_argument("--n", type=int, default=10, help="photos timed (one more warms the model up)")
    parser.add_argument("--port", type=int, default=8071)
    parser.add_argument("--workdir", type=Path, default=ROOT / "embeddings" / "browser-probe")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    photos = sorted(p for p in args.photos.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    step = max(1, len(photos) // (args.n + 1))
    photos = photos[::step][: args.n + 1]  # spread over the folder (over its categories)
    if len(photos) < 2:
        parser.error(f"{args.photos} holds fewer than 2 photos")
    result = probe(args.index, photos, args.port, args.workdir)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"a shopper's actions in the browser, {result['photos']} photos of {args.photos}, index {args.index} "
              f"(first upload, loading the model: {result['first_upload_s']:.1f} s):")
        for action, stats in result["actions"].items():
            print(f"  {action:18} p50 {stats['p50_s']:.3f} s, p95 {stats['p95_s']:.3f} s, max {stats['max_s']:.3f} s "
                  f"({stats['n']} times)")
        print(f"  target p50 < {TARGET_P50_S:.0f} s for each: {'MET' if result['met'] else 'MISS'}; "
              f"load average {result['load_average']}")
    return 0 if result["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
