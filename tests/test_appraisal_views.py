"""Appraisal pages: voting on a phone, printing slips, paper entry, results."""

import datetime
import logging
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orgs import figures
from orgs.models import Role
from orgs.periods import Period
from reviews.appraisal import services
from reviews.appraisal.models import (
    Appraisal,
    AppraisalState,
    Ballot,
    PaperCount,
    PaperEntry,
    Slip,
)
from reviews.appraisal.views_ballot import ADDRESS_LIMIT, SERIAL_LIMIT
from tests.appraisal_world import cast, open_appraisal, plan_fields
from tests.personas import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def own(personas):
    return personas.user("own_branch_secretary")


def login(client, user):
    client.force_login(user)
    return client


def vote_url(appraisal):
    return reverse("vote:ballot", args=[appraisal.public_id])


def test_a_voter_casts_a_ballot_on_the_phone(personas, own, client, caplog):
    appraisal = open_appraisal(personas)
    [(_, code)] = services.slips_issue(by=own, appraisal=appraisal, group="masses", count=1)
    caplog.set_level(logging.DEBUG)
    # the SQL logger writes only while queries are captured (or with DEBUG on): capture both
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    url = vote_url(appraisal)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(url)
        assert page.status_code == 200 and "选票码" in page.content.decode()
        sheet = client.post(url, {"step": "code", "code": code.lower().replace("-", " ")})
        body = sheet.content.decode()
        assert "李一" in body and "李二" in body and "好" in body and "群众" in body
        assert sheet["Cache-Control"].startswith("max-age=0")
        done = client.post(url, {"step": "cast", "code": code, "s1": "1", "s2": "0"})
        assert "评议表已提交" in done.content.decode()
        assert Ballot.objects.get().marks == "10"
        again = client.post(url, {"step": "cast", "code": code, "s1": "4", "s2": "4"})
        assert "已经投过票" in again.content.decode()
        assert Ballot.objects.count() == 1
    # the code reaches no log line, no statement sent to the database and no address, in any
    # spelling (the voter typed it in lower case with spaces); the choices go only into the
    # ballot row. Both captures hold what the four requests did, so the checks are not empty.
    statements = [q["sql"] for q in queries.captured_queries]
    assert any("INSERT" in sql and Ballot._meta.db_table in sql for sql in statements)
    sql_records = [r for r in caplog.records if r.name == "django.db.backends"]
    assert len(sql_records) >= len(statements) > 0
    secret = "".join(code.split("-")[1:])  # the 12 characters after the serial

    def spelled_out(text: str) -> bool:
        return secret in re.sub(r"[^0-9A-Z]", "", text.upper())

    assert len(secret) == 12 and spelled_out(code.lower().replace("-", " "))
    for sql in statements:
        assert not spelled_out(sql), sql
    for record in caplog.records:
        assert not spelled_out(record.getMessage() + str(getattr(record, "request", "")))
    for response in (page, sheet, done, again):
        assert response.status_code == 200 and not response.has_header("Location")
        assert response["Referrer-Policy"] == "same-origin"


def test_the_vote_page_says_when_voting_is_not_open(personas, own, client):
    appraisal = services.appraisal_create(
        by=own,
        org=personas.orgs["B1"],
        kind="member",
        year=2026,
        held_on=personas.orgs["B1"].created_at.date(),
        place="会议室",
        method="code",
        content="评议",
        expected_member=3,
    )
    assert "尚未开始" in client.get(vote_url(appraisal)).content.decode()
    assert client.get(reverse("vote:ballot", args=["nosuchcode"])).status_code == 404


def test_wrong_codes_are_rate_limited_but_a_good_code_always_passes(personas, own, client):
    appraisal = open_appraisal(personas)
    [(_, code), (_, other)] = services.slips_issue(
        by=own, appraisal=appraisal, group="member", count=2
    )
    url = vote_url(appraisal)
    guess = code[:5] + ("AAAA-AAAA-AAAA" if "AAAA" not in code else "BBBB-BBBB-BBBB")
    for _ in range(SERIAL_LIMIT):
        response = client.post(url, {"step": "code", "code": guess})
        assert "选票码不正确" in response.content.decode()
    blocked = client.post(url, {"step": "code", "code": guess})
    assert blocked.status_code == 429 and "次数过多" in blocked.content.decode()
    assert 'value="' + guess + '"' in blocked.content.decode()  # what was typed stays
    # the right code for that very serial still opens the sheet, as does another slip's
    for good in (code, other):
        response = client.post(url, {"step": "code", "code": good})
        assert response.status_code == 200 and "李一" in response.content.decode()
    # garbage from one address: limited once it passes the address limit
    for i in range(ADDRESS_LIMIT):
        client.post(
            url, {"step": "code", "code": f"{i:04d}-ZZZZ-ZZZZ-ZZZZ"}, REMOTE_ADDR="10.0.0.7"
        )
    flood = client.post(
        url, {"step": "code", "code": "9999-ZZZZ-ZZZZ-ZZZZ"}, REMOTE_ADDR="10.0.0.7"
    )
    assert flood.status_code == 429


def test_the_proxy_header_names_the_voter_address(personas, own, client, settings):
    settings.CLIENT_IP_HEADER = "HTTP_X_REAL_IP"
    appraisal = open_appraisal(personas)
    [(_, code)] = services.slips_issue(by=own, appraisal=appraisal, group="member", count=1)
    url = vote_url(appraisal)
    guess = code[:5] + ("AAAA-AAAA-AAAA" if "AAAA" not in code else "BBBB-BBBB-BBBB")
    for _ in range(SERIAL_LIMIT):
        client.post(url, {"step": "code", "code": guess}, HTTP_X_REAL_IP="10.1.1.1")
    # behind one proxy, another voter typing the same wrong code is not the one blocked
    other = client.post(url, {"step": "code", "code": guess}, HTTP_X_REAL_IP="10.1.1.2")
    assert other.status_code == 200 and "选票码不正确" in other.content.decode()
    blocked = client.post(url, {"step": "code", "code": guess}, HTTP_X_REAL_IP="10.1.1.1")
    assert blocked.status_code == 429


def test_odd_input_on_the_public_page_never_crashes(personas, own, client):
    appraisal = open_appraisal(personas)
    [(_, code)] = services.slips_issue(by=own, appraisal=appraisal, group="member", count=1)
    url = vote_url(appraisal)
    assert client.get("/py/ab%00cd/").status_code == 404
    assert client.get(reverse("vote:ballot", args=[appraisal.public_id.upper()])).status_code == 404
    for text in ("²001-AAAA-AAAA-AAAA", "——", "x" * 5000, "0001"):
        for step in ("code", "cast"):
            response = client.post(url, {"step": step, "code": text, "s1": "9"})
            assert response.status_code == 200
    # a NUL is refused for the whole site before any page sees it (orgs.middleware)
    for step in ("code", "cast"):
        assert client.post(url, {"step": step, "code": "\x00", "s1": "9"}).status_code == 400
    # full-width characters from a Chinese keyboard are the same code
    wide = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else "－" for c in code)
    assert "李一" in client.post(url, {"step": "code", "code": wide}).content.decode()
    # a sheet with a value no radio button has comes back with the voter's other choices
    back = client.post(url, {"step": "cast", "code": code, "s1": "2", "s2": "7"}).content.decode()
    assert "第 2 项的评价无效" in back and 'name="s1" value="2" checked' in back
    assert not Ballot.objects.exists()


def test_slips_print_as_pdf_and_are_not_kept(personas, own, client):
    appraisal = open_appraisal(personas)
    login(client, own)
    url = reverse("appraisal:slips", args=[appraisal.pk])
    assert "印制选票码" in client.get(url).content.decode()
    response = client.post(url, {"group": "member", "count": "3"})
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF") and "no-store" in response["Cache-Control"]
    assert Slip.objects.filter(appraisal=appraisal).count() == 3
    bad = client.post(url, {"group": "member", "count": "0"})
    assert "至少印制 1 张" in bad.content.decode()
    assert Slip.objects.filter(appraisal=appraisal).count() == 3


def test_no_slip_is_kept_when_printing_fails(personas, own, client, monkeypatch):
    import weasyprint

    appraisal = open_appraisal(personas)
    login(client, own)

    def broken(self, *args, **kwargs):
        raise OSError("no fonts")

    monkeypatch.setattr(weasyprint.HTML, "write_pdf", broken)
    client.raise_request_exception = False
    response = client.post(
        reverse("appraisal:slips", args=[appraisal.pk]), {"group": "member", "count": "3"}
    )
    assert response.status_code == 500
    assert not Slip.objects.filter(appraisal=appraisal).exists()


def test_paper_entry_keeps_the_input_and_names_the_row(personas, own, client):
    appraisal = open_appraisal(personas)
    login(client, own)
    url = reverse("appraisal:paper", args=[appraisal.pk])
    assert "录入纸质评议表" in client.get(url).content.decode()
    data = {
        "group": "masses",
        "sheets_issued": "10",
        "sheets_returned": "8",
        "blank_sheets": "0",
        "spoiled_sheets": "0",
        **{f"c1_{j}": v for j, v in enumerate(["5", "2", "1", "0", "0"])},
        **{f"c2_{j}": v for j, v in enumerate(["4", "2", "1", "0", "0"])},
    }
    response = client.post(url, data)
    body = response.content.decode()
    assert "第 2 项“李二”" in body and "应等于有效评议表 8 张" in body
    assert 'value="4"' in body  # the teller's figures are kept
    assert not PaperEntry.objects.exists()
    data["c2_4"] = "1"
    response = client.post(url, data)
    assert response.status_code == 302
    assert PaperEntry.objects.get().counts[1] == [4, 2, 1, 0, 1]


def test_results_hidden_until_closed_then_to_the_runner_until_published(personas, own, client):
    appraisal = open_appraisal(personas)
    issued = services.slips_issue(by=own, appraisal=appraisal, group="member", count=3)
    for _, code in issued:
        cast(appraisal, code, 1, 2)
    url = reverse("appraisal:results", args=[appraisal.pk])
    assert login(client, own).get(url).status_code == 404
    services.appraisal_close(by=own, appraisal=appraisal)
    page = client.get(url).content.decode()
    assert "计票校验" in page and "未公开" in page
    member = personas.user("member_self")
    assert login(client, member).get(url).status_code == 403
    login(client, own).post(
        reverse("appraisal:decide", args=[appraisal.pk]),
        {f"grade_{s.pk}": s.suggested_grade for s in appraisal.subjects.all()},
    )
    client.post(reverse("appraisal:publish", args=[appraisal.pk]), {"low_turnout_confirmed": "1"})
    assert Appraisal.objects.get(pk=appraisal.pk).state == AppraisalState.PUBLISHED
    # three ballots: fewer than five, so members see the grades but not the counts
    seen = login(client, member).get(url).content.decode()
    assert "票数仅向书记显示" in seen and "计票校验" not in seen
    assert "票数仅向书记显示" not in login(client, own).get(url).content.decode()


def test_deciding_keeps_the_input_on_refusal(personas, own, client):
    appraisal = open_appraisal(personas)
    for _, code in services.slips_issue(by=own, appraisal=appraisal, group="member", count=5):
        cast(appraisal, code, 1, 1)
    services.appraisal_close(by=own, appraisal=appraisal)
    first = appraisal.subjects.get(position=1)
    login(client, own)
    response = client.post(
        reverse("appraisal:decide", args=[appraisal.pk]),
        {f"grade_{first.pk}": "basic", f"reason_{first.pk}": ""},
        follow=True,
    )
    body = response.content.decode()
    assert "请填写理由" in body
    assert '<option value="basic" selected>' in body
    first.refresh_from_db()
    assert first.final_grade == ""


def _results_queries(client, appraisal) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("appraisal:results", args=[appraisal.pk])).status_code == 200
    return len(queries)


def test_results_page_queries_do_not_grow_with_ballots(personas, own, client):
    small = open_appraisal(personas, year=2025)
    for _, code in services.slips_issue(by=own, appraisal=small, group="member", count=5):
        cast(small, code, 1, 2)
    services.appraisal_close(by=own, appraisal=small)
    large = open_appraisal(personas)
    for _, code in services.slips_issue(by=own, appraisal=large, group="masses", count=120):
        cast(large, code, 2, 3)
    services.appraisal_close(by=own, appraisal=large)
    login(client, own)
    few, many = _results_queries(client, small), _results_queries(client, large)
    # 1 session, 2 user, 3 the appraisal with its organisation, 4 the user's grants, 5 the grade
    # rule, 6 the subjects with who decided them: the ballots are read from the frozen tally
    assert few == many == 6


def test_plan_pages(personas, own, client):
    login(client, own)
    b1 = personas.orgs["B1"]
    url = reverse("appraisal:create", args=[b1.pk])
    page = client.get(url).content.decode()
    assert "民主评议党员" in page and "民主评议基层党组织" not in page
    bad = client.post(url, {"kind": "member", "year": "2026", "place": "会议室"})
    assert "评议日期" in bad.content.decode() and not Appraisal.objects.exists()
    response = client.post(
        url,
        {
            "kind": "member",
            "year": "2026",
            "held_on": "2026-11-20",
            "place": "会议室",
            "method": "code",
            "content": "评议承诺落实",
            "expected_member": "2",
            "expected_masses": "5",
        },
    )
    appraisal = Appraisal.objects.get()
    assert response.status_code == 302
    detail = client.get(reverse("appraisal:detail", args=[appraisal.pk])).content.decode()
    assert "方案确定，进入公开述职" in detail and "李一" in detail
    listing = client.get(reverse("appraisal:list", args=[b1.pk])).content.decode()
    assert "2026" in listing and "确定方案" in listing
    subject = appraisal.subjects.get(name="李一")
    page = client.post(
        reverse("appraisal:exclude", args=[subject.pk]), {"reason": "外出务工"}, follow=True
    ).content.decode()
    assert "暂缓评议（1）" in page and "李一：外出务工" in page
    key = next(iter(Appraisal.objects.get().excluded))
    page = client.post(
        reverse("appraisal:restore", args=[appraisal.pk]), {"key": key}, follow=True
    ).content.decode()
    assert "已恢复评议" in page and "暂缓评议（" not in page


def test_an_error_report_shows_neither_the_code_nor_the_choices(personas, own, monkeypatch, caplog):
    """A crash while casting: the report Django logs and mails to the admins (built as
    AdminEmailHandler builds it) masks the posted code and grades and the locals holding them."""
    from django.test import Client
    from django.views.debug import ExceptionReporter

    appraisal = open_appraisal(personas)
    [(_, code)] = services.slips_issue(by=own, appraisal=appraisal, group="member", count=1)

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Ballot.objects, "create", broken)
    client = Client(raise_request_exception=False)
    response = client.post(
        vote_url(appraisal), {"step": "cast", "code": code, "s1": "4", "s2": "3"}
    )
    assert response.status_code == 500
    [record] = [r for r in caplog.records if r.name == "django.request" and r.exc_info]
    reporter = ExceptionReporter(record.request, *record.exc_info, is_email=True)
    for report in (reporter.get_traceback_text(), reporter.get_traceback_html()):
        assert "disk full" in report and "ballot_cast" in report  # the report is there
        assert code not in report and code.split("-")[1] not in report
        assert "'43'" not in report  # the grades as stored
    assert code not in record.getMessage()
    assert not Ballot.objects.exists() and not Slip.objects.get().used


def test_admin_shows_sessions_read_only(world, client):
    from django.contrib.auth import get_user_model

    admin_user = get_user_model().objects.create_superuser("root", password="pw-123456")
    client.force_login(admin_user)
    appraisal = world.extra["ap_done"]
    assert client.get(reverse("admin:reviews_appraisal_changelist")).status_code == 200
    page = client.get(reverse("admin:reviews_appraisal_change", args=[appraisal.pk]))
    assert page.status_code == 200 and appraisal.slip_salt not in page.content.decode()
    assert client.get(reverse("admin:reviews_leaderreview_changelist")).status_code == 200
    assert client.get(reverse("admin:orgs_officesetting_changelist")).status_code == 200


def _queries(client, url, data=None) -> int:
    figures.settle()  # the figures the test's writes left waiting: not the page's queries
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, data) if data else client.get(url)
        assert response.status_code == 200
    return len(queries)


def test_session_and_sheet_queries_do_not_grow_with_subjects(personas, own, client):
    from tests.personas import make_member

    small = open_appraisal(personas, year=2025)
    for i in range(10):
        make_member(personas.orgs["B1"], f"新党员{i}")
    large = open_appraisal(personas)
    assert (small.subject_count, large.subject_count) == (2, 12)
    counts = []
    for appraisal in (small, large):
        [(_, code)] = services.slips_issue(by=own, appraisal=appraisal, group="member", count=1)
        login(client, own)
        detail = _queries(client, reverse("appraisal:detail", args=[appraisal.pk]))
        client.logout()
        sheet = _queries(client, vote_url(appraisal), {"step": "code", "code": code})
        counts.append((detail, sheet))
    # the session page: 1 session, 2 user, 3 the appraisal with its organisation, 4 the user's
    # grants, 5 the history with its actors, 6 the slips issued and used, 7 the subjects with
    # their members; the ballot sheet: 1 the appraisal by its public id, 2 the slip, 3 the
    # subjects
    assert counts[0] == counts[1] == (7, 3)


def test_commendation_candidates_across_the_subtree(world, client):
    """The 2025 session of B1 (published, five ballots of 好) suggests its members for 优秀; the
    township secretary sees them, with a fixed number of queries."""
    login(client, world.user("parent_committee_secretary"))
    url = reverse("appraisal:candidates", args=[world.orgs["T1"].pk]) + "?year=2025"
    body = client.get(url).content.decode()
    excellent = world.extra["ap_done"].subjects.filter(final_grade="excellent")
    assert excellent.exists()
    for subject in excellent:
        assert subject.name in body
    # the heading counts the names listed, and the 民主评议 statistics count the same members
    page = client.get(url)
    assert page.context["page"].paginator.count == excellent.count()
    assert f"优秀共产党员推荐人选（{excellent.count()}）" in body
    kept = figures.subtree_total("appraisal", world.orgs["T1"], Period.whole_year(2025))
    assert kept["members_commended"] == excellent.count()
    assert "2025年还没有达到推荐条件的党组织" in body
    assert "还没有公开的党员评议结果" in client.get(url.replace("2025", "2024")).content.decode()


def test_a_statement_shows_readers_only_published_pledges(world, client):
    from pledges import services as pledge_services
    from tests.pledge_world import member_pledge_fields

    own = world.user("own_branch_secretary")
    draft = pledge_services.pledge_create(
        by=own, year=2026, owner_member=world.members["m1"],
        **member_pledge_fields(content="尚未公示的承诺草稿"),
    )  # fmt: skip
    subject = world.extra["ap_open"].subjects.get(member=world.members["m1"])
    url = reverse("appraisal:statement", args=[subject.pk])
    published = world.extra["pm"].content
    as_member = login(client, world.user("member_self")).get(url).content.decode()
    assert published[:20] in as_member and draft.content not in as_member
    as_secretary = login(client, own).get(url).content.decode()
    assert draft.content in as_secretary  # the one who writes the statement sees them all


def test_a_wrong_code_takes_no_lock(personas, own):
    appraisal = open_appraisal(personas)
    [(_, code)] = services.slips_issue(by=own, appraisal=appraisal, group="member", count=1)
    wrong = code[:5] + ("AAAA-AAAA-AAAA" if "AAAA" not in code else "BBBB-BBBB-BBBB")
    with CaptureQueriesContext(connection) as queries:
        with pytest.raises(services.CodeRefused):
            services.ballot_cast(appraisal_id=appraisal.pk, code=wrong, marks={1: 1})
    assert not [q for q in queries.captured_queries if " FOR " in q["sql"]]


def test_wrong_codes_with_a_bad_sheet_still_count_towards_the_limit(personas, own, client):
    appraisal = open_appraisal(personas)
    [(_, code)] = services.slips_issue(by=own, appraisal=appraisal, group="member", count=1)
    guess = code[:5] + ("AAAA-AAAA-AAAA" if "AAAA" not in code else "BBBB-BBBB-BBBB")
    for _ in range(SERIAL_LIMIT):
        client.post(vote_url(appraisal), {"step": "cast", "code": guess, "s1": "9"})
    blocked = client.post(vote_url(appraisal), {"step": "cast", "code": guess, "s1": "9"})
    assert blocked.status_code == 429


def test_lists_have_a_fixed_number_of_queries(personas, own, client):
    """The session list and the 评先评优 page cost the same for one session as for several."""
    parent = personas.user("parent_committee_secretary")
    sibling = personas.user("sibling_branch_secretary")

    def published(org, by, year):
        appraisal = open_appraisal(personas, org=org, by=by, year=year, expected_masses=0)
        n = appraisal.subject_count
        for _, code in services.slips_issue(by=by, appraisal=appraisal, group="member", count=5):
            cast(appraisal, code, *([1] * n))
        appraisal = services.appraisal_close(by=by, appraisal=appraisal)
        services.results_decide(
            by=by,
            appraisal=appraisal,
            decisions={s.pk: (s.suggested_grade, "") for s in appraisal.subjects.all()},
        )
        services.appraisal_publish(by=by, appraisal=appraisal)

    list_url = reverse("appraisal:list", args=[personas.orgs["B1"].pk])
    candidates_url = reverse("appraisal:candidates", args=[personas.orgs["T1"].pk]) + "?year=2025"
    counts = []
    for sessions in ((("B1", own, 2025),), (("B1", own, 2024), ("B2", sibling, 2025))):
        for org, by, year in sessions:
            published(org, by, year)
        login(client, parent)
        counts.append((_queries(client, list_url), _queries(client, candidates_url)))
    # the list: 1 session, 2 user, 3 the organisation, 4 the user's grants, 5 the years with
    # sessions, 6 the count for the pager, 7 the page of sessions; 评先评优: 1–4 as the list,
    # 5 the grade rule, 6 the organisations appraised, 7 the count of members suggested, 8 the
    # page of them
    assert counts[0] == counts[1] == (7, 8)
    assert "王二" in client.get(candidates_url).content.decode()  # B2's member joined the list


# ---------------------------------------------------------------- issue 9


def test_one_masses_slip_never_shows_that_ballot_apart_even_to_the_secretary(personas, own, client):
    appraisal = open_appraisal(personas)
    for group, n in (("member", 6), ("masses", 1)):
        for _, code in services.slips_issue(by=own, appraisal=appraisal, group=group, count=n):
            cast(appraisal, code, 1 if group == "member" else 4, 3 if group == "member" else 1)
    services.appraisal_close(by=own, appraisal=appraisal)
    body = login(client, own).get(reverse("appraisal:results", args=[appraisal.pk]))
    body = body.content.decode()
    assert "群众（代表）：" not in body and "党员：" not in body  # no per-group rows
    assert "各类别票数均不单独显示" in body


def test_plan_and_slip_pages_warn_of_a_group_under_five(personas, own, client):
    appraisal = open_appraisal(personas, expected_masses=3)
    login(client, own)
    detail = client.get(reverse("appraisal:detail", args=[appraisal.pk])).content.decode()
    assert "群众（代表）应参加人数少于 5 人" in detail
    slips_url = reverse("appraisal:slips", args=[appraisal.pk])
    assert "已印制选票码" not in client.get(slips_url).content.decode()
    services.slips_issue(by=own, appraisal=appraisal, group="masses", count=2)
    services.slips_issue(by=own, appraisal=appraisal, group="member", count=6)
    page = client.get(slips_url).content.decode()
    assert "群众（代表）已印制选票码 2 张，少于 5 张" in page
    assert "党员已印制选票码" not in page
    services.slips_issue(by=own, appraisal=appraisal, group="masses", count=3)
    assert "已印制选票码" not in client.get(slips_url).content.decode()
    # saving a plan with a small group says so
    plan = Appraisal.objects.create(
        org=personas.orgs["B1"], kind="member", year=2024, public_id="plantest01",
        held_on=datetime.date(2024, 11, 20), place="会议室", method="code", content="评议",
        expected_member=6, slip_salt="x",
    )  # fmt: skip
    response = client.post(
        reverse("appraisal:edit", args=[plan.pk]),
        {
            "held_on": "2024-11-20",
            "place": "会议室",
            "method": "code",
            "content": "评议",
            "expected_member": "6",
            "expected_masses": "4",
        },
        follow=True,
    )
    assert "群众（代表）应参加人数少于 5 人" in response.content.decode()


def test_a_teller_page_says_why_a_login_opened_by_another_cannot_count(personas, own, client):
    from orgs.accounts import password_set_by

    appraisal = open_appraisal(personas)
    member = personas.user("member_self")
    # logged in before the mark (a fresh login goes to the password change page first)
    login(client, member)
    password_set_by(user=member, by=own)
    url = reverse("appraisal:paper", args=[appraisal.pk])
    page = client.get(url).content.decode()
    assert "密码由他人设置" in page and "保存我的录入" not in page
    response = client.post(
        url,
        {"group": "member", "sheets_issued": "1", "sheets_returned": "1", "blank_sheets": "0",
         "spoiled_sheets": "0", "c1_0": "1", "c1_1": "0", "c1_2": "0", "c1_3": "0", "c1_4": "0",
         "c2_0": "1", "c2_1": "0", "c2_2": "0", "c2_3": "0", "c2_4": "0"},
    )  # fmt: skip
    assert "密码由他人设置" in response.content.decode()
    assert not PaperEntry.objects.exists()


def test_a_teller_page_says_why_the_secretary_and_a_login_he_opened_cannot_both_count(
    personas, own, client
):
    from orgs import services as org_services
    from orgs.accounts import password_set_by

    appraisal = open_appraisal(personas)
    opened, _ = org_services.role_assign(
        by=own, org=personas.orgs["B1"], role=Role.MEMBER, member=personas.members["m1"]
    )
    password_set_by(user=opened, by=opened)  # "changed" by whoever holds the initial password
    data = {"group": "member", "sheets_issued": "1", "sheets_returned": "1", "blank_sheets": "0",
            "spoiled_sheets": "0", "c1_0": "1", "c1_1": "0", "c1_2": "0", "c1_3": "0",
            "c1_4": "0", "c2_0": "1", "c2_1": "0", "c2_2": "0", "c2_3": "0", "c2_4": "0"}  # fmt: skip
    url = reverse("appraisal:paper", args=[appraisal.pk])
    login(client, own)
    assert client.post(url, data).status_code == 302
    login(client, opened)
    page = client.get(url).content.decode()
    assert "曾为您的账号设置密码" in page and "保存我的录入" not in page
    response = client.post(url, data)
    assert "曾为您的账号设置密码" in response.content.decode()
    assert list(PaperEntry.objects.values_list("teller", flat=True)) == [own.pk]
    assert not PaperCount.objects.exists()


def test_wrong_code_counts_are_shared_by_every_process(personas, own, client, settings):
    """The counts live in the database: a worker with an empty local cache (another gunicorn
    process, or this one after a restart) still refuses."""
    from orgs.models import ThrottleCounter

    appraisal = open_appraisal(personas)
    [(_, code)] = services.slips_issue(by=own, appraisal=appraisal, group="member", count=1)
    url = vote_url(appraisal)
    guess = code[:5] + ("AAAA-AAAA-AAAA" if "AAAA" not in code else "BBBB-BBBB-BBBB")
    for _ in range(SERIAL_LIMIT):
        client.post(url, {"step": "code", "code": guess})
    assert ThrottleCounter.objects.exists()
    # another process's local memory holds nothing: a fresh cache, never a flush of the shared
    # Redis database (which holds the broker's queues too)
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "another-process"}}  # fmt: skip
    blocked = client.post(url, {"step": "code", "code": guess})
    assert blocked.status_code == 429 and "分钟后再试" in blocked.content.decode()
    good = client.post(url, {"step": "code", "code": code})  # a valid code is never refused
    assert good.status_code == 200 and "李一" in good.content.decode()


def test_the_secretary_adopts_every_suggestion_on_the_results_page(personas, own, client):
    appraisal = open_appraisal(personas, expected_masses=0)
    for _, code in services.slips_issue(by=own, appraisal=appraisal, group="member", count=5):
        cast(appraisal, code, 1, 2)
    services.appraisal_close(by=own, appraisal=appraisal)
    login(client, own)
    url = reverse("appraisal:results", args=[appraisal.pk])
    assert "采用全部建议" in client.get(url).content.decode()
    page = client.post(reverse("appraisal:adopt", args=[appraisal.pk]), follow=True)
    assert "已为 2 名党员采用建议等次" in page.content.decode()
    assert "采用全部建议</button>" not in page.content.decode()  # nothing left to adopt
    assert sorted(appraisal.subjects.values_list("final_grade", flat=True)) == [
        "excellent",
        "pass",
    ]


def test_publishing_below_the_turnout_asks_for_a_confirmation(personas, own, client):
    appraisal = open_appraisal(personas)  # 6 members and 4 masses expected
    for _, code in services.slips_issue(by=own, appraisal=appraisal, group="member", count=5):
        cast(appraisal, code, 1, 1)
    services.appraisal_close(by=own, appraisal=appraisal)
    services.results_adopt_suggested(by=own, appraisal=appraisal)
    login(client, own)
    url = reverse("appraisal:results", args=[appraisal.pk])
    page = client.get(url).content.decode()
    assert "参加率 50%" in page and 'name="low_turnout_confirmed"' in page
    assert '<span class="tag">推荐评先评优</span>' not in page
    publish = reverse("appraisal:publish", args=[appraisal.pk])
    refused = client.post(publish, follow=True).content.decode()
    assert "确认后才能公开" in refused
    assert Appraisal.objects.get(pk=appraisal.pk).state == AppraisalState.CLOSED
    client.post(publish, {"low_turnout_confirmed": "1"})
    appraisal.refresh_from_db()
    assert appraisal.state == AppraisalState.PUBLISHED and appraisal.low_turnout
    assert "不推荐评先评优" in client.get(url).content.decode()


def test_commendation_page_count_and_names_agree(world, client):
    """B1's 2025 session (5 of 6 voted) suggests its two members; B2's, published with 1 of 10,
    suggests nobody: the heading's count is the names listed."""
    sibling = world.user("sibling_branch_secretary")
    low = open_appraisal(world, org="B2", by=sibling, year=2025)
    [(_, code)] = services.slips_issue(by=sibling, appraisal=low, group="member", count=1)
    cast(low, code, *([1] * low.subject_count))
    low = services.appraisal_close(by=sibling, appraisal=low)
    services.results_adopt_suggested(by=sibling, appraisal=low)
    services.appraisal_publish(by=sibling, appraisal=low, low_turnout_confirmed=True)
    login(client, world.user("parent_committee_secretary"))
    url = reverse("appraisal:candidates", args=[world.orgs["T1"].pk]) + "?year=2025"
    body = client.get(url).content.decode()
    [count] = re.findall(r"优秀共产党员推荐人选（(\d+)）", body)
    table = body.split("优秀共产党员推荐人选")[1].split("</table>")[0]
    names = re.findall(r"<tr>\s*<td>([^<]+)</td>", table)
    expected = ["李一", "李二"]
    assert int(count) == len(names) == len(expected) and sorted(names) == expected
    assert "王二" not in body


def test_an_upper_level_lists_the_sessions_of_its_subtree(personas, own, client):
    """At province level the list shows the sessions below, newest first, paged and filtered by
    year, in a fixed number of queries."""
    sibling = personas.user("sibling_branch_secretary")
    open_appraisal(personas, year=2025)
    open_appraisal(personas, org="B2", by=sibling, year=2026)
    office = make_user("office_province", Role.OFFICE, personas.orgs["P"])
    login(client, office)
    url = reverse("appraisal:list", args=[personas.orgs["P"].pk])
    body = client.get(url).content.decode()
    assert "还没有民主评议" not in body
    assert "组织B1" in body and "组织B2" in body
    only_2025 = client.get(url + "?year=2025").content.decode()
    assert "组织B1" in only_2025 and "组织B2" not in only_2025
    assert "2024年还没有民主评议" in client.get(url + "?year=2024").content.decode()
    assert client.get(url + "?year=abc&page=99").status_code == 200
    # a branch secretary's list is the branch's own
    assert (
        "组织B2"
        not in login(client, own)
        .get(reverse("appraisal:list", args=[personas.orgs["B1"].pk]))
        .content.decode()
    )


def test_the_subtree_list_costs_a_fixed_number_of_queries(
    personas, client, django_assert_max_num_queries, monkeypatch
):
    from reviews.appraisal import views

    monkeypatch.setattr(views, "LIST_PAGE", 2)
    office = make_user("office_province", Role.OFFICE, personas.orgs["P"])
    sibling = personas.user("sibling_branch_secretary")
    own = personas.user("own_branch_secretary")
    for year in (2023, 2024, 2025):
        open_appraisal(personas, year=year, by=own)
        open_appraisal(personas, org="B2", by=sibling, year=year)
    login(client, office)
    url = reverse("appraisal:list", args=[personas.orgs["P"].pk])
    # 1 session, 2 user, 3 the organisation, 4 the user's grants, 5 the years with sessions,
    # 6 the count for the pager, 7 the page of sessions joined to their organisations — none
    # grows with the number of sessions or organisations
    with django_assert_max_num_queries(7):
        page = client.get(url + "?page=2")
    body = page.content.decode()
    assert len(re.findall(r'href="/appraisal/\d+/"', body)) == 2
    assert "第 2 / 3 页" in body


# ---------------------------------------------------------------- every POST through a form

INVISIBLE = "\u200b\u3000\u2060\ufeff"


def _planned(personas):
    own = personas.user("own_branch_secretary")
    fields = plan_fields()
    return services.appraisal_create(
        by=own, org=personas.orgs["B1"], kind="member", year=2026, **fields
    )


@pytest.mark.parametrize(
    "reason, message",
    [
        ("因" * 100000, "“李一”的暂缓评议原因：确保该变量包含不超过 200 字符"),
        (INVISIBLE, "“李一”的暂缓评议原因：这个字段是必填项"),
    ],
)
def test_an_exclusion_reason_too_long_or_invisible_is_refused_naming_the_field(
    personas, own, client, reason, message
):
    appraisal = _planned(personas)
    subject = appraisal.subjects.get(name="李一")
    url = reverse("appraisal:exclude", args=[subject.pk])
    page = login(client, own).post(url, {"reason": reason}, follow=True).content.decode()
    assert message in page
    appraisal.refresh_from_db()
    assert appraisal.excluded == {} and not appraisal.events.filter(action="exclude").exists()
    client.post(url, {"reason": "外出务工"})
    appraisal.refresh_from_db()
    assert [item["reason"] for item in appraisal.excluded.values()] == ["外出务工"]


def test_restoring_a_subject_not_left_out_is_refused_naming_the_field(personas, own, client):
    appraisal = _planned(personas)
    subject = appraisal.subjects.get(name="李一")
    services.subject_exclude(by=own, subject=subject, reason="外出务工")
    url = reverse("appraisal:restore", args=[appraisal.pk])
    page = login(client, own).post(url, {"key": "m" * 100000}, follow=True).content.decode()
    assert "恢复评议的对象：不在暂缓评议名单中" in page
    appraisal.refresh_from_db()
    assert len(appraisal.excluded) == 1


@pytest.mark.parametrize(
    "reason, message",
    [
        ("理" * 100000, "“李一”的调整理由：确保该变量包含不超过 500 字符"),
        (INVISIBLE, "请填写理由"),
    ],
)
def test_a_decision_reason_too_long_or_invisible_is_refused_and_the_input_kept(
    personas, own, client, reason, message
):
    appraisal = open_appraisal(personas)
    for _, code in services.slips_issue(by=own, appraisal=appraisal, group="member", count=5):
        cast(appraisal, code, 1, 1)
    services.appraisal_close(by=own, appraisal=appraisal)
    first = appraisal.subjects.get(position=1)
    url = reverse("appraisal:decide", args=[appraisal.pk])
    data = {f"grade_{first.pk}": "basic", f"reason_{first.pk}": reason}
    body = login(client, own).post(url, data, follow=True).content.decode()
    assert message in body and '<option value="basic" selected>' in body
    first.refresh_from_db()
    assert first.final_grade == "" and first.override_reason == ""
    client.post(url, data | {f"reason_{first.pk}": "长期外出，未参加组织生活"})
    first.refresh_from_db()
    assert first.final_grade == "basic" and first.override_reason == "长期外出，未参加组织生活"


def test_a_decision_grade_that_is_no_choice_is_refused_naming_the_subject(personas, own, client):
    appraisal = open_appraisal(personas)
    for _, code in services.slips_issue(by=own, appraisal=appraisal, group="member", count=5):
        cast(appraisal, code, 1, 1)
    services.appraisal_close(by=own, appraisal=appraisal)
    first = appraisal.subjects.get(position=1)
    url = reverse("appraisal:decide", args=[appraisal.pk])
    body = login(client, own).post(url, {f"grade_{first.pk}": "x" * 100000}, follow=True)
    assert "“李一”的认定结果：无效，请重新选择" in body.content.decode()
    first.refresh_from_db()
    assert first.final_grade == ""


def test_a_paper_group_that_is_no_choice_is_refused_naming_the_field(personas, own, client):
    appraisal = open_appraisal(personas)
    login(client, own)
    url = reverse("appraisal:paper", args=[appraisal.pk])
    data = {"sheets_issued": "1", "sheets_returned": "1", "blank_sheets": "0",
            "spoiled_sheets": "0", "c1_0": "1", "c1_1": "0", "c1_2": "0", "c1_3": "0",
            "c1_4": "0", "c2_0": "1", "c2_1": "0", "c2_2": "0", "c2_3": "0", "c2_4": "0"}  # fmt: skip
    for group in ("成员" * 50000, "leader"):  # junk, and a group this session does not have
        page = client.post(url, data | {"group": group}, follow=True).content.decode()
        assert "参加人员类别：有误，请刷新页面后重试" in page
        discard = reverse("appraisal:paper_discard", args=[appraisal.pk])
        page = client.post(discard, {"group": group}, follow=True).content.decode()
        assert "参加人员类别：有误，请刷新页面后重试" in page
    assert not PaperEntry.objects.exists()
    assert client.post(url, data | {"group": "member"}).status_code == 302
    assert PaperEntry.objects.get().group == "member"


def test_satisfaction_is_shown_as_a_percentage(personas, client):
    """Selectors give the satisfaction as a number; the results and 评先评优 pages write it."""
    parent = personas.user("parent_committee_secretary")
    appraisal = open_appraisal(personas, org="T1", kind="org", by=parent, expected_masses=0)
    for _, code in services.slips_issue(by=parent, appraisal=appraisal, group="member", count=5):
        cast(appraisal, code, 1, 3)  # B1 satisfies everyone, B2 nobody
    appraisal = services.appraisal_close(by=parent, appraisal=appraisal)
    services.appraisal_publish(by=parent, appraisal=appraisal, low_turnout_confirmed=True)
    login(client, parent)
    results = client.get(reverse("appraisal:results", args=[appraisal.pk])).content.decode()
    assert '<td class="num">100.0%</td>' in results and '<td class="num">0.0%</td>' in results
    url = reverse("appraisal:candidates", args=[personas.orgs["T1"].pk]) + "?year=2026"
    assert '<td class="num">100.0%</td>' in client.get(url).content.decode()
