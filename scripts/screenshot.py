"""Screenshots of a running app at desktop and phone widths, before and after uploading a photo.

Usage: python scripts/screenshot.py URL [--image PHOTO] [--out DIR] [--click-more]
Writes DIR/{desktop,phone}-start.png and, with --image, DIR/{desktop,phone}-results.png
(and DIR/{desktop,phone}-more.png with --click-more). Uses Debian's headless Chromium, as the tests do.
"""

from __future__ import annotations

import argparse
import sys
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
    return webdriver.Chrome(options=options)


def _full_page(driver: webdriver.Chrome, path: Path, width: int, height: int) -> None:
    """Grow the window to the page's height so the whole results grid is in the picture."""
    total = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, max(height, total))
    driver.save_screenshot(str(path))
    driver.set_window_size(width, height)
    print(path)


def shoot(url: str, image: Path | None, out: Path, click_more: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, (width, height) in SIZES.items():
        driver = _driver(width, height)
        try:
            wait = WebDriverWait(driver, WAIT_S)
            driver.get(url)
            wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".product-card")))
            _full_page(driver, out / f"{name}-start.png", width, height)
            if image is None:
                continue
            driver.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(image.resolve()))
            wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".rank-badge, .upload-error")))
            _full_page(driver, out / f"{name}-results.png", width, height)
            if click_more:
                title = driver.execute_script(TITLE_JS)
                button = driver.find_elements(By.CSS_SELECTOR, ".more-btn")[0]
                driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", button)
                wait.until(lambda d: d.execute_script(TITLE_JS) not in (title, None))
                _full_page(driver, out / f"{name}-more.png", width, height)
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
