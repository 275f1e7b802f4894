"""How long the Map page takes to draw on a running app: navigation to the figure drawn, in headless Chromium.

Usage: python scripts/map_page_load.py URL [--runs N] [--query ID]
Prints one line per run (seconds from navigation to the plot's points being drawn) and the median.
The first run includes the server's first read of the layout and its traces; the rest are warm.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.support.ui import WebDriverWait

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.conftest import CHROMIUM_FLAGS  # noqa: E402 - the same flags as the browser tests

DRAWN_JS = """const gd = document.querySelector('#map-graph .js-plotly-plot');
return gd && gd._fullData ? gd._fullData.reduce((n, t) => n + (t._length || 0), 0) : 0;"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--query", help="a product id to highlight (the page's #s=item:ID)")
    args = parser.parse_args()
    options = webdriver.ChromeOptions()
    if Path("/usr/bin/chromium").exists():
        options.binary_location = "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options)
    driver.set_window_size(1280, 900)
    target = args.url.rstrip("/") + "/map" + (f"#s=item:{args.query}" if args.query else "")
    times = []
    try:
        for run in range(args.runs):
            driver.get("about:blank")
            start = time.perf_counter()
            driver.get(target)
            points = WebDriverWait(driver, 300, poll_frequency=0.05).until(lambda d: d.execute_script(DRAWN_JS))
            times.append(time.perf_counter() - start)
            print(f"run {run + 1}: {times[-1]:.2f} s to draw {points:,} points", flush=True)
    finally:
        driver.quit()
    print(f"median {statistics.median(times):.2f} s over {len(times)} runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
