"""Screenshots of a running app at desktop and phone widths, before and after uploading a photo.

Usage: python scripts/screenshot.py URL [--image PHOTO] [--out DIR] [--click-more]
Writes DIR/{desktop,phone}-start.png and, with --image, DIR/{desktop,phone}-results.png
(and DIR/{desktop,phone}-more.png with --click-more). Uses Debian's headless Chromium, as the tests do.
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.conftest import CHROMIUM_FLAGS  # noqa: E402 - the same flags as the browser tests

SIZES = {"desktop": (1280, 1600), "phone": (390, 844)}
TITLE_JS = "const t = document.getElementById('results-title'); return t && t.textContent;"
WAIT_S = 120  # the first query may wait for the model to load


def _driver(width: int, height: int) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    if Path("/usr/bin/chromium").exists():
        options.binary_location = "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS:
        if not flag.startswith("--window-size"):
            options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    driver = webdriver.Chrome(options=options)
    # Chromium keeps a window at least ~500 px wide, so a 390 px "phone" window would really show a
    # 485 px page: set the viewport itself (and touch/mobile mode for narrow ones) instead.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    return driver


def _full_page(driver: webdriver.Chrome, path: Path) -> None:
    """The whole page, below the fold too (growing the window leaves the bottom out in headless mode).

    From the top: captured while scrolled, the sticky navbar and sidebar would be drawn mid-page."""
    driver.execute_script("window.scrollTo(0, 0)")
    time.sleep(0.5)  # let a smooth scroll started by the page (to the results) settle first
    driver.execute_script("window.scrollTo(0, 0)")
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"captureBeyondViewport": True, "fromSurface": True})
    path.write_bytes(base64.b64decode(shot["data"]))
    print(path)


def shoot(url: str, image: Path | None, out: Path, click_more: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, (width, height) in SIZES.items():
        driver = _driver(width, height)
        try:
            wait = WebDriverWait(driver, WAIT_S)
            driver.get(url)
            wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".product-card")))
            _full_page(driver, out / f"{name}-start.png")
            if image is None:
                continue
            driver.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(image.resolve()))
            wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".rank-badge, .upload-error")))
            _full_page(driver, out / f"{name}-results.png")
            if click_more:
                title = driver.execute_script(TITLE_JS)
                button = driver.find_elements(By.CSS_SELECTOR, ".more-btn")[0]
                driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", button)
                wait.until(lambda d: d.execute_script(TITLE_JS) not in (title, None))
                _full_page(driver, out / f"{name}-more.png")
        finally:
            driver.quit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--image", type=Path, help="photo to upload")
    parser.add_argument("--out", type=Path, default=Path("reports/screenshots"))
    parser.add_argument("--click-more", action="store_true", help="also click the first 'More like this'")
    args = parser.parse_args(argv)
    shoot(args.url, args.image, args.out, args.click_more)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
