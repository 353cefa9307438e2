"""The pages on a 375 px phone, in Debian's chromium driven by Playwright."""

import os
import shutil
from pathlib import Path

import pytest
from django.urls import reverse

from tests.personas import build_personas

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
SHOTS = Path(os.environ.get("SCREENSHOT_DIR", "/tmp/cxzy-screens"))

pytestmark = [pytest.mark.browser]
if not Path(CHROMIUM).exists() and not IN_CI:  # `make test` installs it; CI must have it
    pytestmark.append(pytest.mark.skip(reason="chromium is not installed"))

ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture
def phone(live_server):
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # the ORM is used beside Playwright's loop
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 375, "height": 740}, locale="zh-CN")
        yield page
        browser.close()


def login(page, base, username):
    page.goto(base + reverse("login"))
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-123456")
    page.click("main button[type=submit]")


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.django_db(transaction=True)
def test_branch_secretary_on_a_phone(phone, live_server):
    personas = build_personas()
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


@pytest.mark.django_db(transaction=True)
def test_move_asks_for_confirmation(phone, live_server):
    personas = build_personas()
    login(phone, live_server.url, "parent")
    phone.goto(live_server.url + reverse("orgs:move", args=[personas.orgs["B1"].pk]))
    phone.fill("#id_new_parent_code", "B2")
    dialogs = []
    phone.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    phone.click("main button[type=submit]")
    assert dialogs and "确定移动" in dialogs[0]
    personas.orgs["B1"].refresh_from_db()
    assert personas.orgs["B1"].parent_id == personas.orgs["T1"].pk
