"""Screenshots of a running app at desktop (1280 px) and phone (390 px) widths, in every state of a search.

Usage: python scripts/screenshot.py URL --image PHOTO [--second PHOTO] [--out DIR] [--words W] [--cast-votes]
Writes DIR/{desktop,phone}-{state}.png for the states: start, results, screen (what the screen shows
right after the upload, not the whole page), filters (the filters unfolded and a dropdown open), tag (a
tag chip applied), region (a box dragged on the photo), shown-more ("Show more" twice), more (a
product's "More like this"), refined ("More like the ones I liked" after two thumbs up; only with
--cast-votes), kept (a second photo with the filters and words kept), words (a word search narrowing it),
no-match (a word no name has), feedback (the Feedback page: with RECOMMENDER_MERCHANT_TOOLS=1, else the
sentence that it is off). Uses Debian's headless Chromium, as the tests do. The thumbs up are real votes,
stored in the served app's database: cast them only on a throwaway server (its own RECOMMENDER_FEEDBACK_DB),
never on a shop's.
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from recommender.ui.components import MERCHANT_PAGE_OFF  # noqa: E402 - what a merchant's page says when off
from tests.conftest import CHROMIUM_FLAGS  # noqa: E402 - the same flags as the browser tests

SIZES = {"desktop": (1280, 900), "phone": (390, 844)}
TITLE_JS = "const t = document.getElementById('results-title'); return t && t.textContent;"
WAIT_S = 120  # the first query may wait for the model to load


def _driver(width: int, height: int) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    if Path("/usr/bin/chromium").exists():
        options.binary_location = "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS:
        if not flag.startswith("--window-size"):
            options.add_argument(flag)
    options.add_argument(f"--window-size={max(width, 500)},{height}")
    driver = webdriver.Chrome(options=options)
    # Chromium keeps a window at least ~500 px wide, so a 390 px "phone" window would really show a
    # 485 px page: set the viewport itself (and touch/mobile mode for narrow ones) instead.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    if width < 600:
        driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True})
    return driver


def _full_page(driver: webdriver.Chrome, path: Path) -> None:
    """The whole page, below the fold too (growing the window leaves the bottom out in headless mode).

    From the top: captured while scrolled, the sticky navbar and sidebar would be drawn mid-page."""
    time.sleep(1.0)  # let the results settle and a scroll started by the page end
    # a sticky navbar is drawn where the viewport was, mid-page, in a capture beyond the viewport
    driver.execute_script("document.querySelector('.shop-navbar').style.position = 'static'; window.scrollTo(0, 0)")
    time.sleep(0.3)
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"captureBeyondViewport": True, "fromSurface": True})
    path.write_bytes(base64.b64decode(shot["data"]))
    print(path)


def _click(driver: webdriver.Chrome, element) -> None:
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", element)


def photo_results(title: str | None) -> bool:
    """The title of a photo's results: "Looks like your photo", or "Looks like the dress in your photo" on a photo
    of a person, whose garment chips search its surest garment first (not a box dragged by hand)."""
    return bool(title) and title.startswith("Looks like ") and title.endswith("your photo") \
        and "framed part" not in title


def _title_changes(driver: webdriver.Chrome, wait: WebDriverWait, before: str | None) -> None:
    wait.until(lambda d: d.execute_script(TITLE_JS) not in (before, None))


def _type(driver: webdriver.Chrome, words: str) -> None:
    """Words typed in the word box (unfolded first on a phone), replacing what it held."""
    toggle = driver.find_element(By.ID, "filters-toggle")
    if toggle.is_displayed() and toggle.get_attribute("aria-expanded") != "true":
        _click(driver, toggle)
    box = driver.find_element(By.ID, "text-search")
    box.clear()
    box.send_keys(words + "\n")


def _journey(driver: webdriver.Chrome, url: str, image: Path, second: Path, words: str, out: Path, name: str,
             cast_votes: bool) -> None:
    wait = WebDriverWait(driver, WAIT_S)
    shoot = lambda state: _full_page(driver, out / f"{name}-{state}.png")  # noqa: E731
    count = lambda: driver.execute_script("const c = document.getElementById('results-count'); return c && c.textContent;")  # noqa: E731,E501
    driver.get(url)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".product-card"))
    shoot("start")
    driver.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(image.resolve()))
    wait.until(lambda d: photo_results(d.execute_script(TITLE_JS)))
    time.sleep(1.5)
    driver.save_screenshot(str(out / f"{name}-screen.png"))  # the viewport only: what fits on the screen
    shoot("results")
    toggle = driver.find_element(By.ID, "filters-toggle")
    if toggle.is_displayed():
        _click(driver, toggle)
    _click(driver, driver.find_element(By.ID, "filter-colour"))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "input.dash-dropdown-search"))
    time.sleep(0.5)
    driver.save_screenshot(str(out / f"{name}-filters.png"))
    driver.find_element(By.TAG_NAME, "body").send_keys("\ue00c")  # Escape closes the dropdown
    if toggle.is_displayed():
        _click(driver, toggle)
    before = count()
    _click(driver, driver.find_element(By.CSS_SELECTOR, "#tag-row .chip"))
    wait.until(lambda d: count() != before)
    shoot("tag")
    before = count()
    _click(driver, driver.find_element(By.CSS_SELECTOR, "#tag-row .chip[aria-pressed=true]"))  # back to all
    wait.until(lambda d: count() != before)
    plot = driver.find_element(By.CSS_SELECTOR, ".region-graph .nsewdrag")
    size = plot.size
    ActionChains(driver).move_to_element(plot).move_by_offset(-size["width"] // 3, -size["height"] // 3) \
        .click_and_hold().pause(0.1).move_by_offset(20, 20).pause(0.1) \
        .move_by_offset(size["width"] // 2, size["height"] // 3).release().perform()
    wait.until(lambda d: "@" in d.current_url)
    wait.until(lambda d: "framed part" in (d.execute_script(TITLE_JS) or ""))
    shoot("region")
    _click(driver, driver.find_element(By.CSS_SELECTOR, ".region-reset"))
    wait.until(lambda d: "@" not in d.current_url)
    wait.until(lambda d: photo_results(d.execute_script(TITLE_JS)))
    _show_more(driver, wait, times=2)
    shoot("shown-more")
    title = driver.execute_script(TITLE_JS)
    _click(driver, driver.find_elements(By.CSS_SELECTOR, ".more-btn")[0])
    _title_changes(driver, wait, title)
    shoot("more")
    if cast_votes:
        _refine(driver, wait)
        shoot("refined")
    else:
        print(f"{name}-refined: left out (it casts two votes into the served app's database: --cast-votes)")
    _click(driver, driver.find_element(By.CSS_SELECTOR, "#tag-row .chip"))  # a filter, to be kept
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#tag-row .chip[aria-pressed=true]"))
    _type(driver, words)
    wait.until(lambda d: f"“{words}”" in (count() or ""))
    driver.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(second.resolve()))
    wait.until(lambda d: d.find_elements(By.ID, "kept-row"))
    shoot("kept")
    before = count()
    _click(driver, driver.find_element(By.ID, "kept-words"))
    wait.until(lambda d: count() != before)
    before = count()
    _type(driver, words)
    wait.until(lambda d: count() != before)
    shoot("words")
    _type(driver, "zzqx")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".no-results"))
    shoot("no-match")
    driver.get(url.rstrip("/") + "/feedback")  # the merchant's page; without their tools, the sentence saying so
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".js-plotly-plot, #feedback-empty")
               or MERCHANT_PAGE_OFF in d.find_element(By.TAG_NAME, "main").text)
    shoot("feedback")


def _show_more(driver: webdriver.Chrome, wait: WebDriverWait, times: int) -> None:
    """"Show more" up to `times` times, each waiting for more results; a catalogue with fewer results than that
    shows them all and the button goes, which ends it early."""
    cards = lambda d: len(d.find_elements(By.CSS_SELECTOR, ".product-card .rank-badge"))  # noqa: E731
    for _ in range(times):
        button = driver.find_elements(By.ID, "show-more")
        if not button:
            return
        before = cards(driver)
        _click(driver, button[0])
        wait.until(lambda d: cards(d) > before)


def _refine(driver: webdriver.Chrome, wait: WebDriverWait) -> None:
    """Two thumbs up (stored as votes by the app), then "More like the ones I liked"."""
    for button in driver.find_elements(By.CSS_SELECTOR, ".vote-up")[:2]:
        _click(driver, button)
        wait.until(lambda d, b=button: b.get_attribute("aria-pressed") == "true")
    wait.until(lambda d: d.find_element(By.ID, "refine").is_enabled())
    title = driver.execute_script(TITLE_JS)
    _click(driver, driver.find_element(By.ID, "refine"))
    _title_changes(driver, wait, title)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--image", type=Path, required=True, help="photo to upload")
    parser.add_argument("--second", type=Path, help="a second photo (default: the first again)")
    parser.add_argument("--words", default="kids", help="words to narrow the second photo's search by")
    parser.add_argument("--out", type=Path, default=Path("reports/screenshots"))
    parser.add_argument("--cast-votes", action="store_true",
                        help="also the refined state: two real thumbs up stored by the app (a throwaway server only)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (width, height) in SIZES.items():
        driver = _driver(width, height)
        try:
            _journey(driver, args.url, args.image, args.second or args.image, args.words, args.out, name,
                     args.cast_votes)
        finally:
            driver.quit()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
