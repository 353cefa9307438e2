"""The statistics cards of the home page in Debian's chromium driven by Playwright, on a 375 px
phone and a 1366 px screen: the charts are drawn, fit the screen, break no rule of the CSP
(no inline style), and their links open the tables. Screenshots go to SCREENSHOT_DIR (or the
test's tmp dir)."""

import os
import shutil
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from config.settings import env_bool
from orgs import figures
from orgs.periods import QUARTER, YEAR, Period
from tests.personas import build_personas

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
IN_CI = env_bool("CI")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
WIDTHS = (375, 1366)

pytestmark = [pytest.mark.browser]
if not Path(CHROMIUM).exists() and not IN_CI:  # `make test` installs it; CI must have it
    pytestmark.append(pytest.mark.skip(reason="chromium is not installed"))

# Runs before the page's own scripts: every report the policy makes is kept for the test.
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


def _figures(orgs) -> None:
    """This quarter's and year's figures by hand (a service's refresh wrote the personas' own),
    with a child named like markup, so the charts have bars, a line, stacks and gaps to draw."""
    today = timezone.localdate()
    quarter = Period.containing(today, QUARTER)
    year = Period.containing(today, YEAR)
    rows = {
        ("reviews", quarter): {
            "B1": {"members_owed": 2, "members_reviewed": 1},
            "B2": {"members_owed": 12, "members_reviewed": 9},
            "T1": {"orgs_owed": 2, "orgs_reviewed": 1, "members_owed": 3},
        },
        ("pledges", year): {
            "B1": {"members_owed": 2, "members_pledged": 1, "items": 6, "items_approved": 5},
            "B2": {"members_owed": 12, "members_pledged": 10, "items": 14, "fulfilled": 4},
        },
        ("appraisal", year): {
            "B2": {"members_excellent": 3, "members_pass": 8, "members_basic": 1},
            "T1": {"orgs_band_1": 1, "orgs_band_2": 1},
        },
    }
    if quarter.number > 1:
        rows[("reviews", quarter.previous())] = {"B2": {"members_owed": 12, "members_reviewed": 12}}
    for src in figures.sources():
        src.model.objects.all().delete()
    for (key, period), by_code in rows.items():
        model = figures.source(key).model
        model.objects.bulk_create(
            model(org=orgs[code], period=period.slug, computed_at=timezone.now(), **values)
            for code, values in by_code.items()
        )
    orgs["B2"].name = '<b>"组织B2"</b>'
    orgs["B2"].save(update_fields=["name"])


@pytest.fixture
def site(transactional_db, live_server):
    """Made before Playwright starts (see tests/test_browser.py)."""
    personas = build_personas()
    _figures(personas.orgs)
    return personas


@pytest.fixture
def browser(site, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _home(browser, base: str, username: str, width: int):
    page = browser.new_page(viewport={"width": width, "height": 900}, locale="zh-CN")
    page.add_init_script(WATCH)
    page.goto(base + reverse("login"))
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-123456")
    page.click("main button[type=submit]")
    page.wait_for_load_state("load")
    return page


def _fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def _check_and_shoot(page, width: int, path: Path) -> None:
    """The card fits the screen, the policy reported nothing, and the page is shot."""
    assert _fits(page)
    assert page.evaluate("window.__csp") == []
    page.screenshot(path=str(path), full_page=True)


def test_county_office_home_with_charts(site, browser, live_server, shots):
    k1, t1 = site.orgs["K1"], site.orgs["T1"]
    for width in WIDTHS:
        page = _home(browser, live_server.url, "office_in", width)
        card = page.locator("section.dashboard")
        assert card.count() == 1 and "组织K1 统计概览" in card.inner_text()
        charts = card.locator("svg.chart-svg")
        assert charts.count() == 5  # coverage, trend, pledges, grades and bands
        for i in range(charts.count()):
            box = charts.nth(i).bounding_box()
            assert box["width"] > 250 and box["height"] > 40  # drawn and scaled, not collapsed
            assert box["x"] + box["width"] <= width
        # the stylesheet applies: a bar is coloured, not SVG's default black
        fill = page.evaluate("getComputedStyle(document.querySelector('.chart-bars rect.s0')).fill")
        assert fill not in ("rgb(0, 0, 0)", "")
        _check_and_shoot(page, width, shots / f"home_dashboard_office_{width}.png")
        if width == 375:  # a bar is a link to the child's table
            page.locator(f"#dashboard-{k1.pk}-coverage a.chart-link").first.click()
            page.wait_for_load_state("load")
            quarter = Period.containing(timezone.localdate(), QUARTER)
            assert page.url.endswith(
                reverse("reports:table", args=["reviews", t1.pk, quarter.slug])
            )
        page.close()


def test_branch_and_committee_secretaries_homes(site, browser, live_server, shots):
    for width in WIDTHS:
        page = _home(browser, live_server.url, "own", width)
        card = page.locator("section.dashboard")
        assert card.count() == 1
        text = card.inner_text()
        assert "本季度未点评党员" in text and "本级" in text and "李一" in text  # the names
        _check_and_shoot(page, width, shots / f"home_dashboard_branch_{width}.png")
        page.close()
    page = _home(browser, live_server.url, "parent", 375)  # T1's secretary: B2 is a child
    card = page.locator("section.dashboard")
    assert card.locator("b").count() == 0  # the name like markup stays text
    assert '<b>"组织B2"</b>' in card.inner_text()
    _check_and_shoot(page, 375, shots / "home_dashboard_committee_375.png")
    page.close()
