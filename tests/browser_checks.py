"""Checks the browser tests run on every page state: axe-core's accessibility rules, and no errors logged; and
the wait they all use.

Moderate violations block too: the README lists the minor ones left (Dash's dropdown options).
"""

from __future__ import annotations

from axe_selenium_python import Axe
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.support.ui import WebDriverWait

BLOCKING = ("moderate", "serious", "critical")


def assert_accessible(driver, state: str) -> None:
    """axe-core (shipped by axe-selenium-python) on the page as it is now: no moderate, serious or critical
    violation."""
    axe = Axe(driver)
    axe.inject()
    results = axe.run()
    blocking = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in results["violations"] if v["impact"] in BLOCKING
    ]
    assert not blocking, f"accessibility violations in state {state!r}:\n" + "\n".join(blocking)


def wait_until(driver, condition, message: str, timeout: float):
    """Wait for the condition; an element Dash re-renders while it is read is read again, not a failure (CI
    once failed on a table replaced between finding it and reading its text)."""
    return WebDriverWait(driver, timeout, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
                         ).until(lambda _driver: condition(), message)
