"""The merchant's Audit page: off for shoppers; in a real browser, accept, reject, reload and export, with axe."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from recommender.audit import AuditReport, Suspect
from recommender.audit_store import save_report
from recommender.cli import main
from recommender.engine import Recommender
from recommender.feedback import FeedbackStore
from recommender.index import Index
from recommender.settings import Settings
from recommender.ui import create_app
from recommender.ui.components import MERCHANT_PAGE_OFF
from tests.audit_fakes import WRONG, write_audit_index
from tests.browser_checks import assert_accessible
from tests.index_fakes import FakeExtractor

SHOTS = Path("/tmp/audit21-shots")
OFF_TEXT = MERCHANT_PAGE_OFF


def _page():
    """The Audit page's module as Dash loaded it (an app must have been created first)."""
    import sys

    import dash

    return sys.modules[next(p["module"] for p in dash.page_registry.values() if p["path"] == "/audit")]


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Path:
    index = write_audit_index(tmp_path_factory.mktemp("audit-page"))
    assert main(["audit", "--index", str(index)]) == 0
    return index


def _settings(index: Path, tmp_path: Path, merchant: bool) -> Settings:
    return Settings.from_env(index=index, feedback_db=tmp_path / "votes.sqlite3", thumbnail_dir=tmp_path / "thumbs",
                             upload_dir=tmp_path / "uploads", merchant_tools=merchant)


def _app(index: Path, tmp_path: Path, merchant: bool):
    engine = Recommender(Index.load(index), FakeExtractor(dim=16))
    return create_app(_settings(index, tmp_path, merchant), engine=engine)


def test_off_for_shoppers_no_link_no_page_no_export(audited: Path, tmp_path: Path) -> None:
    for merchant in (False, True):
        app = _app(audited, tmp_path / str(merchant), merchant=merchant)
        client = app.server.test_client()
        assert client.get("/audit/fixes.csv").status_code == (200 if merchant else 404)
        assert ('"Audit"' in client.get("/_dash-layout").get_data(as_text=True)) is merchant
        with app.server.test_request_context():
            text = str(_page().layout())
        assert (OFF_TEXT in text) is not merchant and ("Catalogue audit" in text) is merchant


def test_suspects_are_paged(audited: Path, tmp_path: Path) -> None:
    app = _app(audited, tmp_path, merchant=True)
    page = _page()
    report = AuditReport(suspects=[Suspect(f"p{i:03d}", "articleType", "Jeans", "Tshirts", 0.9, 0.9 - i / 100)
                                   for i in range(25)])
    with app.server.test_request_context():
        from recommender.ui.services import get_services

        services = get_services()
        cards, label, no_prev, no_next = page.suspects_page(services, report, 0)
        assert (len(cards), label, no_prev, no_next) == (10, "Suspects 1–10 of 25", True, False)
        cards, label, no_prev, no_next = page.suspects_page(services, report, 2)
        assert (len(cards), label, no_prev, no_next) == (5, "Suspects 21–25 of 25", False, True)
        assert page.suspects_page(services, report, 99)[1] == "Suspects 21–25 of 25"
        assert page.suspects_page(services, AuditReport(), 0)[1] == "No suspect labels"


def test_empty_findings_say_what_was_checked(audited: Path, tmp_path: Path) -> None:
    app = _app(audited, tmp_path, merchant=True)
    clean = AuditReport(attributes=["articleType"])
    with app.server.test_request_context():
        from recommender.ui.services import get_services

        services = get_services()
        findings = str(_page().other_findings(services, clean))
        suspects = str(_page().suspects_page(services, clean, 0)[0])
    assert "no two of the 122 pictures are the same shot" in findings and "None found" not in findings
    assert "none is under 32 px" in findings and "every category value has at least 5 products" in findings
    assert "each product's category was checked against its picture's nearest products" in suspects


def test_checked_labels_lower_case_role_words_only(audited: Path, tmp_path: Path) -> None:
    app = _app(audited, tmp_path, merchant=True)
    with app.server.test_request_context():
        from recommender.ui.services import get_services

        checked = _page().checked_labels(get_services(), AuditReport(attributes=["articleType", "subCategory"]))
    assert checked == "category, subCategory"  # role words lower-cased, other labels as the catalogue spells them


def test_a_trained_index_says_what_its_caveat_means_here_not_to_audit_another_index(tmp_path: Path) -> None:
    index = write_audit_index(tmp_path / "trained")
    save_report(index, AuditReport(attributes=["articleType"], trained_on_labels=True))  # as audit saves a head's
    app = _app(index, tmp_path, merchant=True)
    with app.server.test_request_context():
        text = str(_page().layout())
    assert "a wrong label it learnt from can look right" in text and "picture agrees" in text
    assert "backbone" not in text and "--index" not in text  # nothing the page's reader cannot do from it


def test_a_catalogue_not_yet_audited_gets_a_sentence(dash_duo, tmp_path: Path) -> None:
    index = write_audit_index(tmp_path / "fresh")
    dash_duo.start_server(_app(index, tmp_path, merchant=True))
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/audit")
    dash_duo.wait_for_contains_text("#audit-missing", "There is no audit of this catalogue's current build yet")
    assert str(tmp_path) not in dash_duo.find_element("#audit-missing").text  # no server path on a page
    assert dash_duo.find_element("#audit-missing code").text == "python -m recommender audit --index DIR"
    assert_accessible(dash_duo.driver, "audit page before any audit")


def _js(dash_duo, script: str, *args):
    return dash_duo.driver.execute_script(script, *args)


def _shots(dash_duo, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    for width in (1280, 390):
        dash_duo.driver.set_window_size(width, 1000)
        height = _js(dash_duo, "return document.documentElement.scrollHeight;")
        dash_duo.driver.set_window_size(width, min(int(height) + 100, 4000))
        dash_duo.driver.save_screenshot(str(SHOTS / f"{name}-{width}.png"))
    dash_duo.driver.set_window_size(1280, 1000)


def test_accept_reject_reload_and_export(dash_duo, audited: Path, tmp_path: Path) -> None:
    dash_duo.start_server(_app(audited, tmp_path, merchant=True))
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/audit")
    dash_duo.wait_for_element(".audit-suspect", timeout=30)
    assert "Audit" in [a.text for a in dash_duo.find_elements(".nav-main .nav-link")]
    names = [e.text for e in dash_duo.find_elements(".audit-suspect h3")]
    assert len(names) >= 3 and len(dash_duo.find_elements(".audit-suspect .audit-neighbour")) == 5 * len(names)
    duplicates = dash_duo.find_element(".audit-duplicates")
    names = {e.text for e in dash_duo.find_elements(".audit-duplicates figcaption")}
    assert names == {"Tshirts 10", "Tshirts 11", "Caps 100", "Caps 101"}  # NEAR_DUPLICATE and SAME_PIXELS
    ids = {e.text for e in dash_duo.find_elements(".audit-duplicates .audit-id")}
    assert ids == {"p010", "p011", "p100", "p101"} and "p010" in duplicates.text  # under each name, on a phone too
    assert_accessible(dash_duo.driver, "audit page")
    _shots(dash_duo, "audit")

    buttons = dash_duo.find_elements(".audit-suspect .audit-decide")
    first, second = buttons[0], buttons[3]  # Accept of the first suspect, Reject of the second
    _js(dash_duo, "arguments[0].click();", first)
    _js(dash_duo, "arguments[0].click();", second)
    statuses = lambda: [e.text for e in dash_duo.find_elements(".audit-suspect [aria-live]")]  # noqa: E731
    dash_duo.wait_for_contains_text(".audit-suspect:nth-child(1) [aria-live]", "Accepted")
    dash_duo.wait_for_contains_text(".audit-suspect:nth-child(2) [aria-live]", "Rejected")
    assert first.get_attribute("aria-pressed") == "true" and "btn-success" in first.get_attribute("class")
    assert_accessible(dash_duo.driver, "audit page after decisions")
    _shots(dash_duo, "audit-decided")

    catalog = Index.load(audited).manifest.catalog.identity
    decisions = FeedbackStore(tmp_path / "votes.sqlite3").decisions(catalog)
    assert sorted(d for d, _ in decisions.values()) == ["accept", "reject"]
    accepted = next(item for (item, _), (d, _) in decisions.items() if d == "accept")
    assert accepted in WRONG

    dash_duo.driver.refresh()  # decisions are the database's, not the page's
    dash_duo.wait_for_contains_text(".audit-suspect:nth-child(1) [aria-live]", "Accepted")
    assert statuses()[1].startswith("Rejected")

    href = dash_duo.find_element("#audit-export").get_attribute("href")
    body = _js(dash_duo, "const r = await fetch(arguments[0]); return [r.status, await r.text()];", href)
    assert body[0] == 200
    rows = list(csv.reader(io.StringIO(body[1])))
    assert rows[0] == ["id", "image", "articleType", "masterCategory", "productDisplayName"]
    truth = {"p005": "Tshirts", "p040": "Jeans", "p070": "Watches"}
    assert [(r[0], r[2]) for r in rows[1:]] == [(accepted, truth[accepted])]
    assert rows[1][1] == f"images/{accepted}.png"  # as the shop's CSV names it: relative to the catalogue's folder
    assert dash_duo.get_logs() == []


def test_the_page_says_which_suspect_comes_first_only_above_suspects(tmp_path: Path) -> None:
    index = write_audit_index(tmp_path / "index")
    app = _app(index, tmp_path, merchant=True)
    for suspects, shown in (([Suspect("p000", "articleType", "Jeans", "Tshirts", 0.9, 0.9)], True), ([], False)):
        save_report(index, AuditReport(attributes=["articleType"], suspects=suspects))
        with app.server.test_request_context():
            text = str(_page().layout())
        assert ("The most doubtful label comes first" in text) is shown
