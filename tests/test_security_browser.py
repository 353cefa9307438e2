"""The Content-Security-Policy in a real browser: no page is broken by it (no violation reported),
the notice board's QR code renders, and the voting page's slip scanner still runs."""

import os
import shutil
from pathlib import Path

import pytest
from django.urls import reverse

from config.settings import env_bool
from tests.personas import build_personas
from tests.pledge_world import YEAR, build_pledge_world

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
IN_CI = env_bool("CI")
SHOTS = Path(os.environ.get("SCREENSHOT_DIR", "/tmp/cxzy-screens"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]

pytestmark = [pytest.mark.browser]
if not Path(CHROMIUM).exists() and not IN_CI:  # `make test` installs it; CI must have it
    pytestmark.append(pytest.mark.skip(reason="chromium is not installed"))

# Runs before the page's own scripts: every report the policy makes is kept for the test.
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " line " + e.lineNumber);
});
"""


@pytest.fixture
def scene(transactional_db, live_server):
    """Made before Playwright starts (see tests/test_browser.py): personas, pledges, and an open
    appraisal of B1 with one unused slip."""
    from reviews.appraisal import services
    from tests.appraisal_world import open_appraisal

    world = build_pledge_world(build_personas())
    appraisal = open_appraisal(world)
    [(_, code)] = services.slips_issue(
        by=world.user("own_branch_secretary"), appraisal=appraisal, group="masses", count=1
    )
    return world, appraisal, code


@pytest.fixture
def browser(scene, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


def _page(browser, init_script=""):
    page = browser.new_page(viewport={"width": 1024, "height": 900}, locale="zh-CN")
    page.add_init_script(WATCH + init_script)
    console = []
    page.on(
        "console",
        lambda m: console.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return page, console


def _violations(page, console):
    return page.evaluate("window.__csp") + console


def test_no_main_page_breaks_the_policy_and_the_qr_code_renders(scene, browser, live_server):
    world, appraisal, _ = scene
    base = live_server.url
    page, console = _page(browser)
    found = {}

    def visit(url):
        response = page.goto(base + url)
        assert response.status == 200, url
        assert "Content-Security-Policy" in {k.title() for k in response.headers}, url
        page.wait_for_load_state("load")
        found[url] = _violations(page, console)
        console.clear()

    notice = reverse("public:notice", args=["B1"]) + f"?year={YEAR}"
    visit(notice)
    qr = page.locator("section.qr img")
    assert qr.evaluate("img => img.complete && img.naturalWidth") > 0  # the SVG is drawn
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "public_notice_qr.png"), full_page=True)
    printed = page.evaluate("window.__printed = 0; window.print = () => window.__printed++; 1")
    page.click("[data-print]")
    assert printed and page.evaluate("window.__printed") == 1  # the static script's handler

    visit(reverse("login"))
    visit(reverse("vote:ballot", args=[appraisal.public_id]))
    page.goto(base + reverse("login"))
    page.fill("#id_username", "own")
    page.fill("#id_password", "pw-123456")
    page.click("main button[type=submit]")
    page.wait_for_load_state("load")
    found["login POST"] = _violations(page, console)
    for url in (
        reverse("home"),
        reverse("pledges:detail", args=[world.extra["pm"].pk]),
        reverse("pledges:year", args=[world.orgs["B1"].pk, YEAR]),
        reverse("orgs:detail", args=[world.orgs["B1"].pk]),
        reverse("appraisal:detail", args=[appraisal.pk]),
    ):
        visit(url)
    assert not {url: v for url, v in found.items() if v}, found


def test_the_slip_scanner_still_works_under_the_policy(scene, browser, live_server):
    """Chromium on a desktop has no BarcodeDetector or camera: the test gives it both (a detector
    that sees the slip's code, a blank canvas as the camera) and the static script does the rest."""
    _, appraisal, code = scene
    camera = f"""
    window.BarcodeDetector = class {{
      detect() {{ return Promise.resolve([{{ rawValue: "{code}" }}]); }}
    }};
    Object.defineProperty(navigator, "mediaDevices", {{ configurable: true, value: {{
      getUserMedia: function () {{
        var canvas = document.createElement("canvas");
        canvas.width = canvas.height = 64;
        canvas.getContext("2d").fillRect(0, 0, 64, 64);
        return Promise.resolve(canvas.captureStream(5));
      }}
    }} }});
    """
    page, console = _page(browser, camera)
    page.goto(live_server.url + reverse("vote:ballot", args=[appraisal.public_id]))
    assert page.is_visible("#scan-start")  # site.js ran and found a scanner
    page.click("#scan-start")
    page.wait_for_selector("#ballot-sheet", timeout=10000)
    assert "李二" in page.content()
    assert not _violations(page, console)
