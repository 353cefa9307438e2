"""Input hygiene (NUL, invisible text), the Content-Security-Policy, attachments, /healthz/ over
plain HTTP, the notice board's QR code, the favicon and the admin link.

These run on PostgreSQL in CI, where a NUL reaching a query is an error (SQLite stores it): the
NUL tests there prove that no request carrying one gets as far as the database.
"""

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse

from orgs.forms import MemberForm
from orgs.middleware import InputNormalizationMiddleware
from orgs.text import strip_invisible
from pledges.models import Pledge, PledgeEvent, PledgeStatus
from tests.pledge_world import PNG, YEAR

ROOT = Path(__file__).resolve().parent.parent
INVISIBLE_ONLY = "\u200b\u200c\u200d\u2060\ufeff\u200e\u200f\u202a\u202e\u2066\u2069\u3000 \t\n"


@pytest.fixture
def as_user(client, world):
    def login(persona):
        client.force_login(world.user(persona))
        return client

    return login


# ---------------------------------------------------------------- NUL


@pytest.mark.parametrize(
    "path",
    ["/gs/%00/", "/gs/B1%00/", "/gs/%00/qr.svg", "/py/%00/", "/orgs/%00/", "/%00", "/static/%00"],
)
def test_a_nul_in_the_path_is_404_for_anonymous_visitors(world, client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "您要访问的页面不存在" in response.content.decode()


def test_a_nul_in_the_path_is_404_for_a_logged_in_user(as_user):
    client = as_user("own_branch_secretary")
    assert client.get("/gs/%00/").status_code == 404
    assert client.post("/pledges/%00/submit/", {}).status_code == 404


def test_a_path_code_wrapped_in_invisible_characters_is_404(world, client):
    assert client.get(f"/gs/B1/?year={YEAR}").status_code == 200
    assert client.get("/gs/%E2%80%8BB1/").status_code == 404
    assert client.get("/gs/B1%E3%80%80/").status_code == 404


def test_a_nul_in_a_search_is_refused_with_a_chinese_400(as_user):
    client = as_user("own_branch_secretary")
    response = client.get("/orgs/members/?q=%00")
    page = response.content.decode()
    assert response.status_code == 400
    assert "空字符" in page and "“q”" in page
    # the site's header is there: the refusal is a page of the site, not a bare error
    assert "退出" in page
    assert client.get("/orgs/members/?q=%E7%8E%8B").status_code == 200


def test_a_nul_in_a_query_of_a_public_page_is_refused(world, client):
    assert client.get(f"/gs/B1/?year={YEAR}%00").status_code == 400
    assert client.get("/gs/B1/?%00=1").status_code == 400


def test_a_nul_in_a_raw_form_field_is_refused_and_nothing_is_saved(as_user, world):
    client = as_user("parent_committee_secretary")
    po = world.extra["po"]
    events = PledgeEvent.objects.count()
    response = client.post(reverse("pledges:return", args=[po.pk]), {"comment": "请补充\x00"})
    assert response.status_code == 400
    assert "空字符" in response.content.decode()
    po.refresh_from_db()
    assert po.status == PledgeStatus.SUBMITTED
    assert PledgeEvent.objects.count() == events


def test_a_nul_in_a_form_field_is_refused_and_nothing_is_saved(as_user, world):
    client = as_user("own_branch_secretary")
    url = reverse("pledges:create_org", args=[world.orgs["B1"].pk]) + f"?year={YEAR}"
    before = Pledge.objects.count()
    data = {
        "kind": "annual",
        "category": "serve_people",
        "content": "修路\x00",
        "target": "2公里",
        "due_date": f"{YEAR}-10-31",
    }
    response = client.post(url, data)
    assert response.status_code == 400
    assert "“content”" in response.content.decode()
    assert Pledge.objects.count() == before


def test_a_nul_in_a_login_is_refused_for_anonymous_visitors(world, client):
    response = client.post(reverse("login"), {"username": "own\x00", "password": "pw-123456"})
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


def test_a_session_cookie_with_a_nul_is_ignored(world, client):
    client.cookies[settings.SESSION_COOKIE_NAME] = "abcdefgh\x00ijklmnop"
    assert client.get(f"/gs/B1/?year={YEAR}").status_code == 200
    response = client.get(reverse("home"))
    assert response.status_code == 302 and "/login/" in response["Location"]


# ---------------------------------------------------------------- invisible text


def test_strip_invisible_keeps_text_between_and_blanks_invisible_only_text():
    assert strip_invisible(INVISIBLE_ONLY) == ""
    assert strip_invisible("\u200b\u3000王\u200d芳\u00a0\ufeff") == "王\u200d芳"
    assert strip_invisible("👨\u200d👩\u200d👧") == "👨\u200d👩\u200d👧"


@pytest.mark.parametrize(
    "invisible",
    # Khmer inherent vowel, deprecated format control, variation selector, tag space, musical
    # and shorthand format controls, Hangul fillers, braille blank, a lone combining accent
    ["\u17b4", "\u206a", "\ufe0f", "\U000e0020", "\U0001d173", "\U0001bca0", "\u115f",
     "\u3164", "\u2800", "\u0301", "\u200b\ufe0f\u3000"],
)  # fmt: skip
def test_text_in_which_nothing_draws_is_blank(invisible):
    assert strip_invisible(invisible) == ""


def test_format_characters_at_the_edges_are_trimmed_and_marks_on_letters_kept():
    assert strip_invisible("\U000e0020\u206a王芳\u206a\U0001d173") == "王芳"
    assert strip_invisible("❤\ufe0f") == "❤\ufe0f"
    assert strip_invisible("e\u0301") == "e\u0301"


def test_a_pledge_of_invisible_characters_only_is_blank_and_required(as_user, world):
    client = as_user("own_branch_secretary")
    url = reverse("pledges:create_org", args=[world.orgs["B1"].pk]) + f"?year={YEAR}"
    before = Pledge.objects.count()
    data = {
        "kind": "annual",
        "category": "serve_people",
        "content": INVISIBLE_ONLY,
        "target": "\u200b2公里\u3000",
        "due_date": f"{YEAR}-10-31",
    }
    response = client.post(url, data)
    page = response.content.decode()
    assert response.status_code == 200
    assert "这个字段是必填项" in page
    assert list(response.context["form"].errors) == ["content"]
    assert "2公里" in page  # what the user typed is kept
    assert Pledge.objects.count() == before
    # the same pledge with text saves, without the invisible edges
    response = client.post(url, data | {"content": "\u2066年内修通村道\u2069\u200b"})
    assert response.status_code == 302
    pledge = Pledge.objects.latest("pk")
    assert (pledge.content, pledge.target) == ("年内修通村道", "2公里")


def test_a_member_name_of_invisible_characters_only_is_refused(as_user, world):
    client = as_user("own_branch_secretary")
    member = world.members["m1"]
    name = member.name
    form = MemberForm(instance=member)
    data = {key: form[key].value() for key in form.fields if form[key].value() not in (None, False)}
    data["birth_date"] = member.birth_date.strftime("%Y-%m")
    url = reverse("orgs:member_edit", args=[member.pk])
    response = client.post(url, data | {"name": "\u200b\u200c\u3000\u202e\U000e0020\u17b4"})
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["name"]
    member.refresh_from_db()
    assert member.name == name
    # the same form with a name saves it without the invisible edges
    assert client.post(url, data | {"name": "\u200f李四\ufeff"}).status_code == 302
    member.refresh_from_db()
    assert member.name == "李四"


def test_passwords_are_passed_on_as_typed_and_other_values_are_trimmed():
    seen = {}

    def view(request):
        seen.update(post=request.POST, get=request.GET)

    middleware = InputNormalizationMiddleware(lambda request: None)
    request = RequestFactory().post(
        "/x/?q=%E2%80%8B%E7%8E%8B%E3%80%80",
        {
            "password": " \u200bpw\u3000",
            "new_password1": "\ufeffsecret ",
            "old_PASSWORD": "\u200e",
            "name": "\u200b张三\u200b",
            "code": "\u2060 0001-AAAA-BBBB-CCCC \u200b",
            "ids": ["1", "\u200b2"],
            "blank": "\u3000",
        },
    )
    assert middleware.process_view(request, view, (), {}) is None
    view(request)
    post = seen["post"]
    assert post["password"] == " \u200bpw\u3000"
    assert post["new_password1"] == "\ufeffsecret "
    assert post["old_PASSWORD"] == "\u200e"
    assert post["name"] == "张三"
    assert post["code"] == "0001-AAAA-BBBB-CCCC"
    assert post.getlist("ids") == ["1", "2"]
    assert post["blank"] == ""
    assert seen["get"]["q"] == "王"
    assert not post._mutable


def test_csrf_and_file_uploads_still_work_behind_the_normalisation(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.user("own_branch_secretary"))
    pm = world.extra["pm"]
    url = reverse("pledges:fulfil", args=[pm.pk])
    token = re.search(
        r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get(url).content.decode()
    )
    upload = SimpleUploadedFile("现场\u200b.png", PNG, content_type="image/png")
    data = {
        "csrfmiddlewaretoken": token.group(1),
        "period": f"{YEAR}-2",
        "status": "done",
        "text": "\u200b全部完成\u3000",
        "reason": "",
        "files": [upload],
    }
    response = client.post(url, data)
    assert response.status_code == 302
    fulfilment = pm.fulfilments.get(period=2)
    assert fulfilment.text == "全部完成"
    assert fulfilment.attachments.count() == 1
    # without the token, CSRF still refuses
    refused = client.post(url, data | {"csrfmiddlewaretoken": "x" * 64, "period": f"{YEAR}-3"})
    assert refused.status_code == 403


# ---------------------------------------------------------------- Content-Security-Policy

CSP_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
    "img-src": "'self' data:",
    "style-src": "'self'",
}


def _policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict(
        (part.strip().split(" ", 1) + [""])[:2] for part in header.split(";") if part.strip()
    )


def test_every_kind_of_response_carries_the_policy(as_user, world):
    client = as_user("own_branch_secretary")
    anonymous = Client()
    responses = [
        client.get(reverse("home")),
        client.get(reverse("pledges:detail", args=[world.extra["pm"].pk])),
        client.get("/orgs/members/?q=%00"),  # 400
        client.get("/nowhere/"),  # 404
        anonymous.get(reverse("login")),
        anonymous.get(reverse("home")),  # redirect to login
        anonymous.get(f"/gs/B1/?year={YEAR}"),
        anonymous.get(reverse("healthz")),
        anonymous.get(reverse("vote:ballot", args=[world.extra["ap_open"].public_id])),
    ]
    for response in responses:
        policy = _policy(response)
        for directive, value in CSP_DIRECTIVES.items():
            assert policy.get(directive) == value, (response.status_code, directive, policy)
        assert "unsafe-inline" not in response["Content-Security-Policy"]


TAG = re.compile(r"<script\b[^>]*>", re.I)
HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I | re.S)
STYLE = re.compile(r"\sstyle\s*=|<style\b", re.I)
# Rendered to PDF by WeasyPrint only, never served as a page: CSS may be inline there.
PDF_ONLY = re.compile(r"(_print\.html|/pdf/[^/]+\.html|/print/[^/]+\.html)$")


def _templates():
    for folder in [ROOT / "templates", *ROOT.glob("*/templates"), *ROOT.glob("*/*/templates")]:
        yield from folder.rglob("*.html")


def test_no_template_has_inline_script_handlers_or_styles():
    """What the policy would block: <script> without src, on*= handlers, style attributes."""
    found = []
    for template in _templates():
        text = template.read_text()
        name = template.relative_to(ROOT).as_posix()
        for tag in TAG.findall(text):
            if "src=" not in tag:
                found.append(f"{name}: inline script")
        if HANDLER.search(text):
            found.append(f"{name}: event handler attribute")
        if STYLE.search(text) and not PDF_ONLY.search(name):
            found.append(f"{name}: inline style")
    assert list(_templates()), "no templates found"
    assert not found, found


def test_the_print_button_on_the_notice_board_uses_the_static_script(world, client):
    page = client.get(f"/gs/B1/?year={YEAR}").content.decode()
    assert "onclick" not in page
    assert "data-print" in page
    assert re.search(r'<script src="/static/js/print\.js" defer></script>', page)
    script = Path(finders.find("js/print.js")).read_text()
    assert "data-print" in script and "window.print()" in script


# ---------------------------------------------------------------- attachments


def test_attachments_are_downloads_in_a_sandbox(as_user, world):
    client = as_user("own_branch_secretary")
    response = client.get(reverse("pledges:attachment", args=[world.extra["attachment"].pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert "photo.png" in response["Content-Disposition"]
    assert response["Content-Security-Policy"] == "sandbox"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")


# ---------------------------------------------------------------- /healthz/ over plain HTTP


def test_production_settings_redirect_to_https_but_not_healthz(db):
    production = {
        "DEBUG": False,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
        "SECURE_HSTS_SECONDS": 3600,
    }
    with override_settings(**production):
        client = Client()  # the security middleware reads its settings when it is built
        login = client.get(reverse("login"))
        assert login.status_code == 301 and login["Location"].startswith("https://")
        health = client.get(reverse("healthz"))
        # the broker is checked where there is one (REDIS_URL)
        answers = {"database": "ok"} | ({"broker": "ok"} if settings.REDIS_URL else {})
        assert health.status_code == 200 and health.json() == answers
        assert client.get(reverse("healthz"), HTTP_X_FORWARDED_PROTO="https").status_code == 200


def test_the_production_settings_module_exempts_healthz_from_the_redirect():
    code = (
        "import django, re; django.setup(); from django.conf import settings as s; "
        "print(s.DEBUG, s.SECURE_SSL_REDIRECT, "
        "any(re.search(p, 'healthz/') for p in s.SECURE_REDIRECT_EXEMPT), "
        "any(re.search(p, 'login/') for p in s.SECURE_REDIRECT_EXEMPT))"
    )
    env = {"DJANGO_SETTINGS_MODULE": "config.settings", "SECRET_KEY": "x" * 60, "PATH": "/usr/bin"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.split() == ["False", "True", "True", "False"], result.stderr


# ---------------------------------------------------------------- the notice board's QR code


def test_the_qr_code_is_a_standalone_svg_image(world, client):
    response = client.get(reverse("public:qr", args=["B1"]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    root = ET.fromstring(response.content)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert int(root.get("width")) > 0 and int(root.get("height")) > 0
    assert root.findall("{http://www.w3.org/2000/svg}path")
    page = client.get(f"/gs/B1/?year={YEAR}").content.decode()
    assert f'<img src="{reverse("public:qr", args=["B1"])}"' in page


# ---------------------------------------------------------------- favicon and admin link


def test_every_page_links_a_favicon_that_exists(world, client):
    assert finders.find("favicon.svg") and finders.find("favicon.ico")
    for url in (reverse("login"), f"/gs/B1/?year={YEAR}"):
        page = client.get(url).content.decode()
        assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    response = client.get("/favicon.ico")
    assert response.status_code in (301, 302)
    assert response["Location"] == "/static/favicon.ico"
    assert Path(finders.find("favicon.ico")).read_bytes()[:4] == b"\x00\x00\x01\x00"  # ICO


def test_superusers_get_a_link_to_the_admin_and_others_do_not(as_user, world):
    client = as_user("own_branch_secretary")
    assert 'href="/admin/"' not in client.get(reverse("home")).content.decode()
    root = get_user_model().objects.create_superuser("root", password="pw-123456")
    client.force_login(root)
    assert 'href="/admin/"' in client.get(reverse("home")).content.decode()


# ---------------------------------------------------------------- invisible characters inside text


@pytest.mark.parametrize("blank", ["\U0001d159", "\U0001d159\u2800\u3164\u200b"])
def test_symbols_drawn_blank_are_blank_alone_and_trimmed_at_the_edges(blank):
    assert strip_invisible(blank) == ""
    assert strip_invisible(f"{blank}王芳{blank}") == "王芳"
    assert strip_invisible("\U0001d15a") == "\U0001d15a"  # its neighbour draws a notehead


@pytest.mark.parametrize(
    "inside",
    ["\u200b", "\u2060", "\ufeff", "\u00ad", "\u180e", "\u200e", "\u200f", "\u202a", "\u202b",
     "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u200b\u2066\ufeff"],
)  # fmt: skip
def test_characters_that_mean_nothing_inside_text_are_removed_there(inside):
    assert strip_invisible(f"张{inside}三") == "张三"
    assert strip_invisible(f" 张{inside}三\u3000") == "张三"


def test_joiners_and_variation_selectors_inside_text_are_kept():
    assert strip_invisible("👨\u200d👩\u200d👧") == "👨\u200d👩\u200d👧"
    assert strip_invisible("\u200b👨\u200d💻\u2069") == "👨\u200d💻"
    assert strip_invisible("a\u200cb") == "a\u200cb"
    assert strip_invisible("❤\ufe0f好") == "❤\ufe0f好"


def test_a_member_name_is_saved_without_invisible_characters_inside(as_user, world):
    client = as_user("own_branch_secretary")
    member = world.members["m1"]
    form = MemberForm(instance=member)
    data = {key: form[key].value() for key in form.fields if form[key].value() not in (None, False)}
    data["birth_date"] = member.birth_date.strftime("%Y-%m")
    url = reverse("orgs:member_edit", args=[member.pk])
    response = client.post(url, data | {"name": "\U0001d159"})
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["name"]
    assert client.post(url, data | {"name": "王\u200b\u2066五\u2069\u00ad"}).status_code == 302
    member.refresh_from_db()
    assert member.name == "王五"
