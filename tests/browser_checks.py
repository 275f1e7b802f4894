"""Checks the browser tests run on every page state: axe-core's accessibility rules, and no errors logged.

Moderate violations block too: the README lists the minor ones left (Dash's dropdown options).
"""

from __future__ import annotations

from axe_selenium_python import Axe

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
