"""The pages on a 375 px phone, in Debian's chromium driven by Playwright."""

import datetime
import os
import shutil
import threading
from pathlib import Path

import pytest
from django.db import connections
from django.urls import reverse

from config.settings import env_bool
from orgs.models import Organization
from tests.personas import build_personas

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
IN_CI = env_bool("CI")
SHOTS = Path(os.environ.get("SCREENSHOT_DIR", "/tmp/cxzy-screens"))

pytestmark = [pytest.mark.browser]
if not Path(CHROMIUM).exists() and not IN_CI:  # `make test` installs it; CI must have it
    pytestmark.append(pytest.mark.skip(reason="chromium is not installed"))

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def site(transactional_db, live_server):
    """The personas, made before Playwright starts: queries made in the test's own context
    while Playwright's loop runs would leave a connection open."""
    return build_personas()


@pytest.fixture
def phone(site, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the ORM is used beside Playwright
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 375, "height": 740}, locale="zh-CN")
        yield page
        browser.close()
    # Queries made while Playwright's loop ran used a connection of their own context.


def db_read(fn):
    """Run a read in a thread of its own that closes its connection (see `site`)."""
    result = []

    def run():
        try:
            result.append(fn())
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return result[0]


def login(page, base, username):
    page.goto(base + reverse("login"))
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-123456")
    page.click("main button[type=submit]")


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_branch_secretary_on_a_phone(site, phone, live_server):
    personas = site
    SHOTS.mkdir(parents=True, exist_ok=True)
    login(phone, live_server.url, "own")
    assert "我的组织" in phone.content()
    assert fits_the_screen(phone)
    phone.click("text=组织B1")
    assert "本组织党员" in phone.content() and "李一" in phone.content()
    assert fits_the_screen(phone)
    phone.screenshot(path=str(SHOTS / "org_detail_375.png"), full_page=True)
    phone.goto(live_server.url + reverse("orgs:member_create", args=[personas.orgs["B1"].pk]))
    phone.fill("#id_name", "手机录入")
    phone.select_option("#id_gender", "女")
    phone.select_option("#id_education", "高中")
    phone.fill("#id_birth_date", "2015-01")
    phone.fill("#id_joined_on", "2020-07-01")
    phone.click("main button[type=submit]")
    phone.screenshot(path=str(SHOTS / "member_form_error_375.png"), full_page=True)
    assert "入党时间应在年满十八岁之后" in phone.content(), phone.inner_text("main")
    assert phone.input_value("#id_name") == "手机录入"
    assert fits_the_screen(phone)
    phone.screenshot(path=str(SHOTS / "member_form_error_375.png"), full_page=True)
    phone.goto(live_server.url + reverse("orgs:detail", args=[personas.orgs["B2"].pk]))
    assert "未找到" in phone.content()


def test_move_asks_for_confirmation(site, phone, live_server):
    personas = site
    login(phone, live_server.url, "parent")
    phone.goto(live_server.url + reverse("orgs:move", args=[personas.orgs["B1"].pk]))
    phone.fill("#id_new_parent_code", "B2")
    dialogs = []
    phone.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    phone.click("main button[type=submit]")
    assert dialogs and "确定移动" in dialogs[0]
    parent_id = db_read(lambda: Organization.objects.get(code="B1").parent_id)
    assert parent_id == personas.orgs["T1"].pk


@pytest.fixture
def voting(site):
    """An open appraisal of B1 with one slip, made before Playwright starts."""
    from reviews.appraisal import services
    from tests.appraisal_world import open_appraisal

    appraisal = open_appraisal(site)
    [(_, code)] = services.slips_issue(
        by=site.user("own_branch_secretary"), appraisal=appraisal, group="masses", count=1
    )
    return appraisal, code


def test_a_voter_votes_on_a_phone(voting, phone, live_server):
    from reviews.appraisal.models import Ballot

    appraisal, code = voting
    url = live_server.url + reverse("vote:ballot", args=[appraisal.public_id])
    phone.goto(url)  # what the slip's first QR code opens: the page, no code in the address
    assert fits_the_screen(phone)
    phone.fill("#vote-code", code.lower().replace("-", " "))
    phone.click("main button[type=submit]")
    assert "李二" in phone.content()
    assert code not in phone.url
    phone.check("input[name=s1][value='1']")
    assert fits_the_screen(phone)
    SHOTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(SHOTS / "ballot_sheet_375.png"), full_page=True)
    dialogs = []
    phone.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    phone.click("main button[type=submit]")
    assert "评议表已提交" in phone.content()
    assert "有 1 个对象未评价" in dialogs[0]  # 李二 was left blank
    assert db_read(lambda: list(Ballot.objects.values_list("marks", flat=True))) == ["10"]


@pytest.fixture
def closed_session(site):
    """A closed appraisal of B1 with a few ballots, made before Playwright starts."""
    from reviews.appraisal import services
    from tests.appraisal_world import cast, open_appraisal

    own = site.user("own_branch_secretary")
    appraisal = open_appraisal(site)
    for _, code in services.slips_issue(by=own, appraisal=appraisal, group="member", count=6):
        cast(appraisal, code, 1, 2)
    return services.appraisal_close(by=own, appraisal=appraisal)


def test_the_secretary_runs_an_appraisal_on_a_phone(closed_session, phone, live_server):
    login(phone, live_server.url, "own")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name, route in (("detail", "appraisal:detail"), ("paper", "appraisal:paper")):
        phone.goto(live_server.url + reverse(route, args=[closed_session.pk]))
        assert fits_the_screen(phone), name
        phone.screenshot(path=str(SHOTS / f"appraisal_{name}_375.png"), full_page=True)
    phone.goto(live_server.url + reverse("appraisal:results", args=[closed_session.pk]))
    assert "计票校验" in phone.content()
    phone.screenshot(path=str(SHOTS / "appraisal_results_375.png"), full_page=True)
    # the wide table is a stack of cards: neither it nor the page scrolls sideways
    assert fits_the_screen(phone)
    dialogs = []
    phone.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    phone.click("text=保存支部委员会认定结果")
    assert "已认定 2 名党员的评议结果" in phone.content()


# ---------------------------------------------------------------- the secretary's pages on a phone
SHOT_DIR = Path(os.environ.get("SHOT_DIR", "/tmp/shots"))
# Every control a user acts with: on a phone none may sit beyond the screen's edges (for example
# inside a table that scrolls sideways).
OFF_SCREEN_CONTROLS = """() => {
  const width = window.innerWidth, off = [];
  const controls = "main a, main button, main input:not([type=hidden]), main select, main textarea";
  for (const el of document.querySelectorAll(controls)) {
    const box = el.getBoundingClientRect();
    if (!box.width && !box.height) continue;  // not shown
    if (box.left < -1 || box.right > width + 1) {
      off.push(`${el.outerHTML.slice(0, 90)} at ${Math.round(box.left)}..${Math.round(box.right)}`);
    }
  }
  return off;
}"""


# Cells of a wide table whose column has a name that the cell does not carry (as a card on a
# phone, a cell's label is its column's name).
UNLABELLED_CELLS = """() => {
  const missing = [];
  for (const table of document.querySelectorAll(".table-wrap table")) {
    const names = [];
    for (const th of table.tHead ? table.tHead.rows[table.tHead.rows.length - 1].cells : []) {
      for (let i = 0; i < th.colSpan; i += 1) names.push(th.colSpan > 1 ? "" : th.textContent.trim());
    }
    for (const row of [...table.tBodies].flatMap(body => [...body.rows])) {
      let column = 0;
      for (const cell of row.cells) {
        const name = cell.colSpan > 1 ? "" : names[column];
        if (name && cell.textContent.trim() && cell.dataset.label !== name) missing.push(name);
        column += cell.colSpan;
      }
    }
  }
  return missing;
}"""


@pytest.fixture
def secretary_world(site):
    """The pledge and review worlds, a member's pledge waiting for vetting, an appraisal in its
    voting step (paper counts, one group confirmed by two tellers with long names) and a closed
    one awaiting the committee's grades."""
    from orgs.models import Role
    from pledges import services as pledge_services
    from reviews.appraisal import services
    from tests.appraisal_world import cast, open_appraisal
    from tests.personas import make_user
    from tests.pledge_world import YEAR, build_pledge_world, member_pledge_fields
    from tests.review_world import build_review_world

    world = build_review_world(build_pledge_world(site))
    own = world.user("own_branch_secretary")
    waiting = pledge_services.pledge_create(
        by=own, year=YEAR, owner_member=world.members["m1b"], **member_pledge_fields()
    )
    pledge_services.pledge_submit(by=own, pledge=waiting, today=datetime.date(YEAR, 2, 1))
    voting = open_appraisal(world)
    # a paper count confirmed by two tellers whose names make a long status badge
    deputy = make_user("deputy", Role.DEPUTY, world.orgs["B1"])
    deputy.first_name = "万磊静"
    deputy.save(update_fields=["first_name"])
    own.first_name, own.last_name = "村党支部", "书记"
    own.save(update_fields=["first_name", "last_name"])
    sheets = {"sheets_issued": 10, "sheets_returned": 9, "blank_sheets": 1, "spoiled_sheets": 1,
              "counts": [[4, 2, 1, 0, 0]] * voting.subjects.count()}  # fmt: skip
    for teller in (own, deputy):
        services.paper_enter(by=teller, appraisal=voting, group="masses", figures=sheets)
    closed = open_appraisal(world, year=2025)
    for _, code in services.slips_issue(by=own, appraisal=closed, group="member", count=6):
        cast(closed, code, 1, 2, 1)
    world.extra.update(
        year=YEAR, voting=voting, closed=services.appraisal_close(by=own, appraisal=closed)
    )
    return world


def secretary_pages(world) -> list[tuple[str, str, str]]:
    """(name, persona's username, path) of the pages a secretary works in."""
    b1, year = world.orgs["B1"].pk, world.extra["year"]
    return [
        ("home", "own", reverse("home")),
        ("org", "own", reverse("orgs:detail", args=[b1])),
        ("members", "own", reverse("orgs:member_list")),
        ("pledge_year", "own", reverse("pledges:year", args=[b1, year])),
        ("pledge_list", "own", reverse("pledges:mine")),
        ("vet_queue", "own", reverse("pledges:vet_queue")),
        ("vet_queue_committee", "parent", reverse("pledges:vet_queue")),
        ("review_quarter", "own", reverse("reviews:quarter", args=[b1, "2026Q3"])),
        ("appraisal_results", "own", reverse("appraisal:results", args=[world.extra["closed"].pk])),
        ("paper_count", "own", reverse("appraisal:paper", args=[world.extra["voting"].pk])),
    ]


def test_the_secretary_pages_fit_a_phone(secretary_world, phone, live_server):
    """At 375 px no control is off-screen and the page never scrolls sideways; the wide tables
    are cards whose cells carry their column's name. Screenshots at 375 and 1366 px."""
    SHOT_DIR.mkdir(parents=True, exist_ok=True)
    failures, who = [], None
    for name, username, path in secretary_pages(secretary_world):
        if username != who:
            phone.context.clear_cookies()
            login(phone, live_server.url, username)
            who = username
        phone.set_viewport_size({"width": 375, "height": 740})
        response = phone.goto(live_server.url + path)
        assert response.status == 200, (name, response.status)
        phone.screenshot(path=str(SHOT_DIR / f"{name}_375.png"), full_page=True)
        if not fits_the_screen(phone):
            failures.append(f"{name}: the page scrolls sideways")
        failures += [f"{name}: {off}" for off in phone.evaluate(OFF_SCREEN_CONTROLS)]
        unlabelled = phone.evaluate(UNLABELLED_CELLS)
        if unlabelled:
            failures.append(f"{name}: cells without their column's name: {unlabelled}")
        phone.set_viewport_size({"width": 1366, "height": 900})
        phone.screenshot(path=str(SHOT_DIR / f"{name}_1366.png"), full_page=True)
    assert not failures, "\n".join(failures)


def test_the_grade_choosers_work_as_cards_on_a_phone(secretary_world, phone, live_server):
    """The committee's grade chooser of each member is on screen, labelled and usable."""
    closed = secretary_world.extra["closed"]
    login(phone, live_server.url, "own")
    phone.goto(live_server.url + reverse("appraisal:results", args=[closed.pk]))
    chooser = phone.locator("select[name^=grade_]").first
    box = chooser.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 375
    assert chooser.evaluate("el => el.closest('td').dataset.label") == "评议结果"
    chooser.select_option(index=1)
    dialogs = []
    phone.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    phone.click("text=保存支部委员会认定结果")
    assert "评议结果" in phone.content()
