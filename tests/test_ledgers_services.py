"""The 写实簿's core: each section assembled from the records (附件1, 附件2), who may sign which
slot and when, paper signatures, sign-many all-or-nothing, withdrawal, the hash chain, the notes,
a transferred member's quarters, and the query bounds of the grids and the inspection.

The scene is tests/ledger_world.py: the year 2025 of the personas' province, signed in January
2026 (`TODAY`) unless a test says otherwise."""

from __future__ import annotations

import datetime
import json
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from ledgers import access, chain, selectors, services
from ledgers.assembly import MISSING, NONE, NOT_DUE, PARTLY, READY, SIGNED
from ledgers.models import Ledger, LedgerEvent, LedgerNote, Lock, Signature
from ledgers.services import SignItem
from orgs import services as org_services
from orgs.models import OrgKind, Role
from orgs.periods import Period
from pledges import services as pledge_services
from pledges.models import Pledge
from reviews import services as review_services
from reviews.appraisal.models import AppraisalSubject, ResultGrade
from reviews.models import LeaderReview
from reviews.selectors import signed_reviews_by_subject
from tests.ledger_world import (
    TODAY,
    YEAR,
    add_members,
    build_ledger_world,
    d,
    fulfil,
    pledge,
    review,
    run_appraisal,
    transfer_m2,
)
from tests.personas import build_personas, make_member, make_org, make_user


@pytest.fixture
def lw(personas):
    return build_ledger_world(personas)


def messages(call) -> str:
    with pytest.raises(ValidationError) as info:
        call()
    return " ".join(info.value.messages)


def view_of(subject, today=TODAY):
    return services.assemble(subject=subject, year=YEAR, today=today)


def sign(by, subject, section, slot, **extra):
    extra.setdefault("today", TODAY)
    return services.ledger_sign(
        by=by, subject=subject, year=YEAR, section=section, slot=slot, **extra
    )


def note(by, subject, section, kind, text, **extra):
    return services.ledger_note_save(
        by=by, subject=subject, year=YEAR, section=section, kind=kind, text=text, **extra
    )


# ---------------------------------------------------------------- member ledger: assembly


def test_member_header_is_the_roster_and_the_branch_that_keeps_it(lw):
    view = view_of(lw.members["m1"])
    assert view.header == {
        "name": "李一",
        "gender": "男",
        "ethnicity": "汉族",
        "birth": "1970年5月",
        "joined": "1995年7月",
        "education": "高中",
        "post": "",
        "org_name": "组织B1",
        "year": YEAR,
    }
    assert view.keeper == lw.orgs["B1"]
    assert view.title == "李一 2025年度党员创先争优活动写实簿"


def test_pledge_section_lists_the_approved_pledges_with_the_oral_one_marked(lw):
    section = view_of(lw.members["m1"]).section("pledge")
    pledges = {item["content"]: item for item in section.live["pledges"]}
    assert set(pledges) == {"每周为邻里读报一次", "汛期巡堤值守"}  # not the draft
    assert pledges["每周为邻里读报一次"]["oral"] is True
    assert pledges["每周为邻里读报一次"]["kind"] == "年度承诺"
    assert pledges["汛期巡堤值守"]["oral"] is False
    assert pledges["汛期巡堤值守"] == {
        "id": lw.extra["immediate"].pk,
        "kind": "即时承诺",
        "category": "联系和服务群众",
        "content": "汛期巡堤值守",
        "target": "值守10次",
        "due": "2025-11-30",
        "oral": False,
    }
    assert section.state == READY and not section.missing


def test_a_member_without_an_approved_pledge_is_told_who_owes_it(lw):
    section = view_of(lw.members["m2"]).section("pledge")
    assert section.live["pledges"] == []
    assert section.missing == ["尚无经审定的公开承诺（由本人提出，组织B2书记审定）"]
    assert section.state == MISSING


def test_an_immediate_pledge_joins_when_approved_and_from_its_quarter(lw):
    own, m1b = lw.user("own_branch_secretary"), lw.members["m1b"]
    made = pledge_services.pledge_create(
        by=own, year=YEAR, owner_member=m1b, kind="immediate", immediate_reason="stage_task",
        category="serve_masses", content="抗旱送水", target="送水20次", due_date=d(12, 31),
    )  # fmt: skip
    pledge_services.pledge_submit(by=own, pledge=made)
    Pledge.objects.filter(pk=made.pk).update(
        created_at=datetime.datetime(YEAR, 7, 20, 9, tzinfo=datetime.UTC)
    )
    contents = [p["content"] for p in view_of(m1b).section("pledge").live["pledges"]]
    assert "抗旱送水" not in contents  # submitted, not yet approved

    pledge_services.pledge_approve(by=lw.user("own_branch_deputy"), pledge=made)
    view = view_of(m1b)
    assert "抗旱送水" in [p["content"] for p in view.section("pledge").live["pledges"]]
    # made in the third quarter: owed from then on, not for the quarters before
    assert view.section("q2").state == READY
    assert view.section("q3").missing == [
        "承诺“抗旱送水”未报告第三季度兑现情况（由本人或组织B1书记填报）"
    ]
    assert view.section("q4").state == MISSING


def test_fulfilment_sections_carry_each_quarters_reports_and_name_what_is_missing(lw):
    view = view_of(lw.members["m1"])
    q1 = view.section("q1")
    assert q1.live["reports"] == [
        {
            "id": lw.extra["fulfilled"][1].pk,
            "pledge_id": lw.extra["oral"].pk,
            "pledge": "每周为邻里读报一次",
            "text": "一季度读报12次",
            "status": "推进中",
            "reason": "",
        }
    ]
    assert q1.state == READY
    # the immediate pledge was made in Q3: not owed for Q1 and Q2
    assert [r["pledge"] for r in view.section("q2").live["reports"]] == ["每周为邻里读报一次"]
    q3 = view.section("q3")
    assert q3.state == MISSING and q3.live["reports"] == []
    assert q3.missing == [
        "承诺“汛期巡堤值守”未报告第三季度兑现情况（由本人或组织B1书记填报）",
        "承诺“每周为邻里读报一次”未报告第三季度兑现情况（由本人或组织B1书记填报）",
    ]
    q4 = view.section("q4")
    assert {(r["pledge"], r["status"]) for r in q4.live["reports"]} == {
        ("汛期巡堤值守", "已完成"),
        ("每周为邻里读报一次", "已完成"),
    }
    assert q4.state == READY


def test_review_sections_carry_the_signed_review_or_the_exemption(lw):
    view = view_of(lw.members["m1"])
    assert view.section("q1r").live["review"] == {
        "id": lw.extra["reviews"][1].pk,
        "reviewer": "王书记",
        "post": "组织B1书记",
        "date": "2026-01-10",
        "method": "个别点评",
        "achievements": "读报坚持得好",
        "shortcomings": "学习不够系统",
        "direction": "加强理论学习",
    }
    assert view.section("q2r").live["exemption"] == {
        "id": lw.extra["exemption"].pk,
        "reason": "住院治疗",
    }
    assert view.section("q2r").state == READY
    q3r = view.section("q3r")
    assert q3r.live["review"] is None
    assert q3r.missing == ["第三季度领导点评尚未签字（由组织B1书记点评）"]


def test_a_review_counts_once_it_is_signed(lw):
    own, m1 = lw.user("own_branch_secretary"), lw.members["m1"]
    draft = review_services.review_create(
        by=own, subject_kind="member", subject_member=m1, period=Period(YEAR, "Q", 3),
        today=TODAY, method="individual", reviewed_on=d(9, 30), achievements="坚持巡堤",
        shortcomings="记录不全", direction="按时填报",
    )  # fmt: skip
    assert view_of(m1).section("q3r").state == MISSING
    review_services.review_sign(by=own, review=draft)
    q3r = view_of(m1).section("q3r")
    assert q3r.state == READY
    assert (q3r.live["review"]["achievements"], q3r.live["review"]["date"]) == (
        "坚持巡堤",
        "2025-09-30",
    )


def test_year_section_has_the_published_appraisal_and_waits_for_the_summary(lw):
    m1 = lw.members["m1"]
    year = view_of(m1).section("year")
    grade = AppraisalSubject.objects.get(
        appraisal=lw.extra["members_appraisal"], member=m1
    ).final_grade
    appraisal = year.live["appraisal"]
    # 好 较好 一般 差 over six 党员 and two 群众 sheets (tests/ledger_world.py)
    assert appraisal["counts"] == [5, 2, 1, 0]
    assert (appraisal["party"], appraisal["masses"]) == (6, 2)
    assert appraisal["grade"] == ResultGrade(grade).label and appraisal["excluded"] == ""
    assert year.live["summary"] == ""
    assert year.missing == ["简要总结尚未填写（由组织B1书记填写）"]
    assert year.state == MISSING


def test_year_section_of_a_member_left_out_shows_the_reason(lw):
    appraisal = view_of(lw.members["m1b"]).section("year").live["appraisal"]
    assert appraisal["grade"] == "暂缓评议"
    assert appraisal["excluded"] == "长期外出务工"
    assert (appraisal["party"], appraisal["masses"]) == (6, 2)


def test_year_section_of_a_session_with_few_ballots_gives_no_counts(lw):
    run_appraisal(
        lw, org="B2", kind="member", by=lw.user("sibling_branch_secretary"),
        member_ballots=[(1,), (2,), (1,)], mass_ballots=[],
    )  # fmt: skip
    appraisal = view_of(lw.members["m2"]).section("year").live["appraisal"]
    assert appraisal["few_ballots"] is True and appraisal["counts"] is None
    assert (appraisal["party"], appraisal["masses"]) == (3, 0)
    assert appraisal["grade"] in {g.label for g in ResultGrade}


def test_year_section_without_a_published_appraisal_says_who_owes_it(lw):
    year = view_of(lw.members["m2"]).section("year")
    assert year.live["appraisal"] is None
    assert f"{YEAR}年民主评议结果尚未公开（由组织B2组织民主评议）" in year.missing


def test_sections_are_not_due_before_their_period_ends(lw):
    view = view_of(lw.members["m1b"], today=d(7, 1))
    states = {s.key: s.state for s in view.sections}
    assert states["pledge"] == READY  # the window closed on 31 March
    assert states["q1"] == READY and states["q2"] == READY
    assert states["q3"] == states["q4"] == states["year"] == NOT_DUE


def test_quarters_before_a_member_joined_belong_to_no_branch(lw):
    newcomer = make_member(lw.orgs["B1"], "新党员", since=d(5, 10))
    view = view_of(newcomer)
    assert view.section("q1").state == view.section("q1r").state == NONE
    assert view.section("q1").owner is None
    assert view.section("q2r").state == MISSING
    refusal = messages(lambda: sign(lw.user("own_branch_secretary"), newcomer, "q1r", "branch"))
    assert "该党员在本期末不在任何党支部" in refusal


# ---------------------------------------------------------------- organisation ledger: assembly


def test_org_header_counts_members_and_activists(lw):
    view = view_of(lw.orgs["B1"])
    assert view.header == {
        "name": "组织B1",
        "secretary": "王书记",
        "members": 3,  # 李一, 李二, 王书记
        "activists": 3,
        "org_name": "组织T1",
        "year": YEAR,
    }
    assert view.keeper == lw.orgs["T1"]
    assert [s.key for s in view.sections] == ["pledge", "h1", "h1r", "h2", "h2r", "year"]


def test_org_header_counts_the_roll_at_the_years_end(moved):
    lw, _ = moved  # 王二 moved from B2 to B1 in August
    make_member(lw.orgs["B1"], "明年入党", since=datetime.date(YEAR + 1, 3, 1))
    assert view_of(lw.orgs["B1"]).header["members"] == 4
    assert view_of(lw.orgs["B2"]).header["members"] == 0
    assert view_of(lw.orgs["B2"], today=d(6, 30)).header["members"] == 1  # during the year: today
    assert (
        services.assemble(
            subject=lw.orgs["B1"], year=YEAR + 1, today=datetime.date(YEAR + 1, 4, 1)
        ).header["members"]
        == 5
    )


def test_org_sections_follow_the_half_years(lw):
    view = view_of(lw.orgs["B1"])
    assert [p["content"] for p in view.section("pledge").live["pledges"]] == ["年内修通村道两公里"]
    assert view.section("h1").live["reports"][0]["text"] == "上半年修通一公里"
    assert view.section("h1").state == READY
    h1r = view.section("h1r").live["review"]
    assert (h1r["reviewer"], h1r["method"], h1r["shortcomings"]) == (
        "赵书记",
        "集中点评",
        "群众宣传不足",
    )
    assert view.section("h2").missing == [
        "承诺“年内修通村道两公里”未报告下半年兑现情况（由组织B1书记填报）"
    ]
    assert view.section("h2r").missing == ["下半年领导点评尚未签字（由组织T1书记点评）"]
    appraisal = view.section("year").live["appraisal"]
    # 满意 比较满意 一般 不满意 over five 党员 and three 群众 sheets
    assert appraisal["counts"] == [5, 2, 0, 1]
    assert (appraisal["party"], appraisal["masses"], appraisal["grade"]) == (5, 3, "")
    assert view.section("year").missing == ["简要总结尚未填写（由组织T1书记填写）"]


def test_org_sections_half_year_not_due_before_its_end(lw):
    view = view_of(lw.orgs["B1"], today=d(6, 30))
    assert view.section("h1").state == NOT_DUE
    assert view_of(lw.orgs["B1"], today=d(7, 1)).section("h1").state == READY


# ---------------------------------------------------------------- who signs


def test_member_signs_the_pledge_section_then_the_branch_secretary(lw):
    m1b = lw.members["m1b"]
    first = sign(lw.user("member_self"), m1b, "pledge", "member")
    assert (first.signer_name, first.capacity, first.org) == ("李二", "党员本人", lw.orgs["B1"])
    assert view_of(m1b).section("pledge").state == PARTLY
    second = sign(lw.user("own_branch_secretary"), m1b, "pledge", "branch")
    assert (second.signer_name, second.capacity) == ("王书记", "党支部书记")
    assert (first.seq, second.seq, second.prev_hash) == (1, 2, first.chain_hash)
    section = view_of(m1b).section("pledge")
    assert section.state == SIGNED and section.signed_on == TODAY


def test_a_deputy_signs_for_the_secretary_and_the_capacity_says_so(lw):
    signed = sign(lw.user("own_branch_deputy"), lw.members["m1"], "q1r", "branch")
    assert (signed.signer_name, signed.capacity) == ("deputy_own", "党支部副书记（代书记签字）")
    assert json.loads(signed.payload)["capacity"] == "党支部副书记（代书记签字）"


@pytest.mark.parametrize(
    "who",
    [
        "member_self",  # a member, on the secretary's line
        "sibling_branch_secretary",  # the secretary of another branch
        "other_deputy",  # a deputy of another branch
        "parent_committee_secretary",  # the level above is not the branch
        "county_secretary",
        "office_inside",  # office staff read, never sign
        "contact_leader",
        "office_outside",
    ],
)
def test_only_the_branch_secretary_or_deputy_signs_the_branch_line(lw, who):
    if who == "other_deputy":
        user = make_user("deputy_b2", Role.DEPUTY, lw.orgs["B2"])
    else:
        user = lw.user(who)
    m1 = lw.members["m1"]
    refusal = messages(lambda: sign(user, m1, "q1r", "branch"))
    assert "此栏应由组织B1的书记（或副书记代签）签字" in refusal
    assert not Signature.objects.exists()
    sign(lw.user("own_branch_secretary"), m1, "q1r", "branch")  # the same call by the right one


@pytest.mark.parametrize(
    "who", ["own_branch_secretary", "own_branch_deputy", "parent_committee_secretary"]
)
def test_only_the_member_signs_the_members_line(lw, who):
    m1b = lw.members["m1b"]
    refusal = messages(lambda: sign(lw.user(who), m1b, "q1", "member"))
    assert "“党员本人”一栏只能由党员本人登录签字" in refusal
    assert sign(lw.user("member_self"), m1b, "q1", "member").signer_name == "李二"


def test_another_members_login_cannot_sign_for_them(lw):
    refusal = messages(lambda: sign(lw.user("member_self"), lw.members["m1"], "q1", "member"))
    assert "只能由党员本人登录签字" in refusal


def test_organisation_lines_are_signed_by_its_secretary_then_the_parents(lw):
    B1 = lw.orgs["B1"]
    own, parent = lw.user("own_branch_secretary"), lw.user("parent_committee_secretary")
    assert "此栏应由组织B1的书记" in messages(lambda: sign(parent, B1, "pledge", "org"))
    lower = sign(own, B1, "pledge", "org")
    assert (lower.capacity, lower.org) == ("党支部书记", B1)
    for outsider in ("own_branch_secretary", "county_secretary", "unrelated_committee_secretary"):
        refusal = messages(lambda u=outsider: sign(lw.user(u), B1, "pledge", "upper"))
        assert "此栏应由组织T1的书记" in refusal
    upper = sign(parent, B1, "pledge", "upper")
    assert (upper.signer_name, upper.capacity, upper.org) == (
        "赵书记",
        "基层党委书记",
        lw.orgs["T1"],
    )
    assert "此栏应由组织B1的书记" in messages(lambda: sign(parent, B1, "h1", "org"))
    assert sign(own, B1, "h1", "org").slot == "org"
    assert sign(parent, B1, "h1r", "upper").slot == "upper"


def test_a_deputy_of_the_parent_signs_the_upper_line_in_that_capacity(lw):
    B1, upper_deputy = lw.orgs["B1"], make_user("t1_deputy", Role.DEPUTY, lw.orgs["T1"])
    sign(lw.user("own_branch_deputy"), B1, "h1", "org")
    sign(lw.user("own_branch_secretary"), B1, "pledge", "org")
    signed = sign(upper_deputy, B1, "pledge", "upper")
    assert (signed.capacity, signed.org) == ("基层党委副书记（代书记签字）", lw.orgs["T1"])
    assert view_of(B1).section("h1").signatures["org"].capacity == "党支部副书记（代书记签字）"


def test_nobody_signs_the_keepers_line_of_their_own_ledger(lw):
    secretary = lw.members["secretary"]  # 王书记, the login "own"
    own, deputy = lw.user("own_branch_secretary"), lw.user("own_branch_deputy")
    made = pledge(lw, by=own, owner_member=secretary, vetter=deputy, content="带头修路")
    fulfil(own, made, 1, "修路一百米")
    assert sign(own, secretary, "q1", "member").capacity == "党员本人"
    review(deputy, member=secretary, period=Period(YEAR, "Q", 1))
    refusal = messages(lambda: sign(own, secretary, "q1r", "branch"))
    assert "不能以党支部书记身份为本人的写实簿签字" in refusal
    assert sign(lw.user("own_branch_deputy"), secretary, "q1r", "branch").slot == "branch"


def test_a_leader_of_both_levels_does_not_sign_the_upper_line(lw):
    parent, B1 = lw.user("parent_committee_secretary"), lw.orgs["B1"]
    sign(lw.user("own_branch_secretary"), B1, "pledge", "org")
    org_services.role_grant(by=None, user=parent, org=B1, role=Role.DEPUTY)
    parent = make_fresh(parent)
    assert "上级党组织一栏请由组织T1的其他负责人签字" in messages(
        lambda: sign(parent, B1, "pledge", "upper")
    )


def make_fresh(user):
    return type(user).objects.get(pk=user.pk)


def test_a_secretary_cannot_grant_themselves_the_upper_line(lw):
    own, B1 = lw.user("own_branch_secretary"), lw.orgs["B1"]
    sign(own, B1, "pledge", "org")
    for org, role in (
        (lw.orgs["T1"], Role.SECRETARY),
        (lw.orgs["T1"], Role.DEPUTY),
        (B1, Role.DEPUTY),
    ):
        messages(lambda o=org, r=role: org_services.role_grant(by=own, user=own, org=o, role=r))
    own = make_fresh(own)
    assert "此栏应由组织T1的书记" in messages(lambda: sign(own, B1, "pledge", "upper"))


def test_a_year_outside_the_campaign_is_refused(lw):
    own, m1 = lw.user("own_branch_secretary"), lw.members["m1"]
    assert "年度有误" in messages(
        lambda: services.ledger_sign(by=own, subject=m1, year=1990, section="q1r", slot="branch")
    )
    assert "年度有误" in messages(
        lambda: services.ledger_note_save(
            by=own, subject=m1, year=1990, section="q1", kind="missing", text="无"
        )
    )
    assert not Ledger.objects.exists()


def test_an_office_user_cannot_sign_any_line(lw):
    office = lw.user("office_inside")
    for subject, section, slot in [
        (lw.members["m1b"], "pledge", "member"),
        (lw.members["m1"], "q1r", "branch"),
        (lw.orgs["B1"], "pledge", "org"),
        (lw.orgs["T1"], "pledge", "upper"),
    ]:
        messages(lambda s=subject, k=section, t=slot: sign(office, s, k, t))
    assert not Signature.objects.exists()


def test_a_county_has_no_ledger_to_sign(lw):
    K1 = lw.orgs["K1"]
    refusal = messages(lambda: sign(lw.user("county_secretary"), K1, "pledge", "org"))
    assert "只有党员和基层党组织" in refusal
    assert not Ledger.objects.exists()


def test_a_slot_the_section_does_not_have_is_refused(lw):
    own, m1 = lw.user("own_branch_secretary"), lw.members["m1"]
    assert "没有这一签字栏" in messages(lambda: sign(own, m1, "q1r", "upper"))
    assert "没有这个栏目" in messages(lambda: sign(own, m1, "h1", "branch"))


# ---------------------------------------------------------------- a member without a login


def test_the_secretary_records_a_paper_signature_with_its_date(lw):
    own, m1 = lw.user("own_branch_secretary"), lw.members["m1"]
    signed = sign(own, m1, "pledge", "member", paper_on=datetime.date(2026, 1, 5))
    assert signed.on_paper and signed.signer is None and signed.recorded_by == own
    assert (signed.signer_name, signed.capacity, signed.recorded_by_name) == (
        "李一",
        "党员本人",
        "王书记",
    )
    assert signed.signed_on == datetime.date(2026, 1, 5)
    payload = json.loads(signed.payload)
    assert (payload["on_paper"], payload["recorded_by"], payload["signed_on"]) == (
        True,
        "王书记",
        "2026-01-05",
    )
    event = LedgerEvent.objects.get(action="paper")
    assert "纸质写实簿签字日期2026年01月05日" in event.comment and event.actor == own
    # then the secretary's own line, with a login
    assert not sign(own, m1, "pledge", "branch").on_paper


@pytest.mark.parametrize(
    "who, subject, section, slot, paper_on, said",
    [
        ("own_branch_secretary", "m1b", "q1", "member", (2026, 1, 5), "应由本人登录签字"),
        ("member_self", "m1", "q1", "member", (2026, 1, 5), "只有组织B1的书记或副书记可以登记"),
        ("sibling_branch_secretary", "m1", "q1", "member", (2026, 1, 5), "只有组织B1的书记"),
        ("office_inside", "m1", "q1", "member", (2026, 1, 5), "只有组织B1的书记"),
        ("own_branch_secretary", "m1", "q1r", "branch", (2026, 1, 5), "只有“党员本人”一栏"),
        ("own_branch_secretary", "m1", "q1", "member", (2026, 2, 1), "不能晚于今天"),
        ("own_branch_secretary", "m1", "q1", "member", (2024, 12, 1), "不能早于2025年"),
        ("own_branch_secretary", "m1", "q1", "member", (2025, 3, 31), "应在2025年03月31日之后"),
        ("own_branch_secretary", "m1", "pledge", "member", (2025, 3, 20), "应在2025年03月31日之后"),
    ],
)
def test_paper_signature_refusals(lw, who, subject, section, slot, paper_on, said):
    member = lw.members[subject]
    refusal = messages(
        lambda: sign(lw.user(who), member, section, slot, paper_on=datetime.date(*paper_on))
    )
    assert said in refusal
    assert not Signature.objects.exists()


def test_paper_signatures_follow_the_section_that_was_due(lw):
    own, m1 = lw.user("own_branch_secretary"), lw.members["m1"]
    sign(own, m1, "q1", "member", paper_on=datetime.date(2025, 4, 1))
    assert view_of(m1).section("q1").signatures["member"].signed_on == datetime.date(2025, 4, 1)


# ---------------------------------------------------------------- when


def test_a_quarter_is_signed_only_after_it_ends(lw):
    me, m1b = lw.user("member_self"), lw.members["m1b"]
    refusal = messages(lambda: sign(me, m1b, "q1", "member", today=d(3, 31)))
    assert "2025年03月31日之后才能签字（2025年第一季度结束后）" in refusal
    assert sign(me, m1b, "q1", "member", today=d(4, 1)).signed_on == d(4, 1)


def test_the_pledge_section_waits_for_the_pledge_window_of_the_calendar(lw):
    me, m1b = lw.user("member_self"), lw.members["m1b"]
    pledge_services.window_set(
        by=lw.user("office_inside"), org=lw.orgs["K1"], year=YEAR, start=d(1, 1), end=d(4, 30)
    )
    refusal = messages(lambda: sign(me, m1b, "pledge", "member", today=d(4, 30)))
    assert "2025年04月30日之后才能签字（承诺期结束后）" in refusal
    assert sign(me, m1b, "pledge", "member", today=d(5, 1)).section == "pledge"


def test_a_section_with_missing_records_waits_for_them_or_a_reason(lw):
    own, m1 = lw.user("own_branch_secretary"), lw.members["m1"]
    refusal = messages(lambda: sign(own, m1, "q3", "member", paper_on=d(12, 1)))
    assert "缺记录——承诺“汛期巡堤值守”未报告第三季度兑现情况" in refusal
    assert "请补齐记录，或填写缺记录说明后再签字" in refusal
    note(own, m1, "q3", "missing", "本人住院，第三季度未能履诺")
    section = view_of(m1).section("q3")
    assert section.state == READY and section.missing  # still missing, but explained
    signed = sign(own, m1, "q3", "member", paper_on=d(12, 1))
    assert json.loads(signed.payload)["content"]["missing_reason"] == "本人住院，第三季度未能履诺"


def test_a_reason_for_missing_records_only_where_something_is_missing(lw):
    refusal = messages(
        lambda: note(lw.user("own_branch_secretary"), lw.members["m1"], "q1", "missing", "无")
    )
    assert "记录齐全" in refusal


def test_the_upper_line_only_after_the_lower(lw):
    own, m1b = lw.user("own_branch_secretary"), lw.members["m1b"]
    assert "应先由党员本人签字" in messages(lambda: sign(own, m1b, "pledge", "branch"))
    B1 = lw.orgs["B1"]
    parent = lw.user("parent_committee_secretary")
    assert "应先由基层党组织书记签字" in messages(lambda: sign(parent, B1, "pledge", "upper"))
    assert not Signature.objects.exists()


def test_the_same_line_is_not_signed_twice(lw):
    own, m1 = lw.user("own_branch_secretary"), lw.members["m1"]
    sign(own, m1, "q1r", "branch")
    refusal = messages(lambda: sign(lw.user("own_branch_deputy"), m1, "q1r", "branch"))
    assert "已由王书记于2026年01月20日签字" in refusal
    assert Signature.objects.filter(section="q1r").count() == 1


def test_a_section_that_changed_since_it_was_shown_is_not_signed(lw):
    own, m1 = lw.user("own_branch_secretary"), lw.members["m1"]
    shown = view_of(m1).section("q1r").shown_hash
    note(lw.user("own_branch_deputy"), m1, "q1r", "supplement", "另附：刚补的一页")
    refusal = messages(lambda: sign(own, m1, "q1r", "branch", shown=shown))
    assert "内容在您查看之后有了变化，请刷新页面核对后再签字" in refusal
    assert not Signature.objects.exists()
    section = view_of(m1).section("q1r")
    signed = sign(own, m1, "q1r", "branch", shown=section.shown_hash)
    assert json.loads(signed.payload)["content"] == section.content
    assert view_of(m1).section("q1r").shown_hash == section.shown_hash  # the snapshot's


def test_a_long_login_name_is_cut_to_the_names_column(lw):
    long_name = "d" * 120
    deputy = make_user(long_name, Role.DEPUTY, lw.orgs["B1"])
    signed = sign(deputy, lw.members["m1"], "q1r", "branch")
    signed.refresh_from_db()
    assert signed.signer_name == "d" * 50
    assert LedgerEvent.objects.get(action="sign").actor_name == "d" * 50
    assert selectors.ledger_verdict(ledger=signed.ledger).ok


def test_the_database_holds_one_live_signature_per_line(lw):
    own, m1 = lw.user("own_branch_secretary"), lw.members["m1"]
    first = sign(own, m1, "q1r", "branch")
    copy = Signature.objects.get(pk=first.pk)
    copy.pk, copy.seq = None, 2
    with pytest.raises(IntegrityError), transaction.atomic():
        copy.save()


def test_a_check_passed_on_a_stale_read_still_ends_in_one_signature(lw, monkeypatch):
    """The second request of a double click got past its checks (as if it had read before the
    first committed): the constraint refuses its row and the service answers with a message."""
    own, m1 = lw.user("own_branch_secretary"), lw.members["m1"]
    sign(own, m1, "q1r", "branch")
    monkeypatch.setattr(services, "_check", lambda *args, **kwargs: None)
    refusal = messages(lambda: sign(own, m1, "q1r", "branch"))
    assert "此写实簿刚刚有人签字，请刷新页面后再试" in refusal
    assert Signature.objects.filter(section="q1r").count() == 1
    ledger = Ledger.objects.get(member=m1)
    assert ledger.signature_count == 1 and selectors.ledger_verdict(ledger=ledger).ok


# ---------------------------------------------------------------- many at once


def test_sign_many_signs_each_as_one_by_one(lw):
    own = lw.user("own_branch_secretary")
    m1, m1b = lw.members["m1"], lw.members["m1b"]
    done = services.ledger_sign_many(
        by=own,
        year=YEAR,
        items=[
            SignItem(m1, "q4r", "branch"),
            SignItem(m1b, "q1r", "branch"),
            SignItem(m1, "q1r", "branch"),
            SignItem(m1, "q1r", "branch"),  # the same box twice: one signature
            SignItem(m1, "q2r", "branch"),
        ],
        today=TODAY,
    )
    assert [(s.ledger.member.name, s.section, s.seq) for s in done] == [
        ("李一", "q1r", 1),
        ("李一", "q2r", 2),
        ("李一", "q4r", 3),
        ("李二", "q1r", 1),
    ]
    for ledger in Ledger.objects.all():
        assert selectors.ledger_verdict(ledger=ledger).ok


def test_sign_many_is_all_or_nothing_and_names_the_member_and_section(lw):
    own = lw.user("own_branch_secretary")
    m1, m1b = lw.members["m1"], lw.members["m1b"]
    items = [
        SignItem(m1b, "q1r", "branch"),
        SignItem(m1, "q1r", "branch"),
        SignItem(m1, "q3r", "branch"),
    ]
    refusal = messages(
        lambda: services.ledger_sign_many(by=own, year=YEAR, items=items, today=TODAY)
    )
    assert refusal.startswith("李一·履诺践诺写实·领导点评（要写清成绩、不足和努力方向）：缺记录")
    assert not Signature.objects.exists() and not Ledger.objects.exists()
    assert not LedgerEvent.objects.exists() and not Lock.objects.exists()
    done = services.ledger_sign_many(by=own, year=YEAR, items=items[:2], today=TODAY)
    assert len(done) == 2


def test_sign_many_records_paper_signatures_of_members_without_a_login(lw):
    own, m1 = lw.user("own_branch_secretary"), lw.members["m1"]
    done = services.ledger_sign_many(
        by=own,
        year=YEAR,
        items=[SignItem(m1, key, "member") for key in ("pledge", "q1", "q2", "q4")],
        paper_on=datetime.date(2026, 1, 8),
        today=TODAY,
    )
    assert [s.section for s in done] == ["pledge", "q1", "q2", "q4"]
    assert all(s.on_paper and s.signed_on == datetime.date(2026, 1, 8) for s in done)


def test_sign_many_reads_the_subjects_again_rather_than_trusting_the_callers_copy(lw):
    """A copy of 李二 that has lost its login (stale, or forged by a caller) does not let the
    secretary record a paper signature for a member who signs with their own login."""
    copy = type(lw.members["m1b"]).objects.get(pk=lw.members["m1b"].pk)
    copy.user_id, copy.name = None, "伪造的姓名"
    own = lw.user("own_branch_secretary")
    refusal = messages(lambda: sign(own, copy, "q1", "member", paper_on=datetime.date(2026, 1, 5)))
    assert "该党员有本人账号，应由本人登录签字" in refusal
    signed = sign(own, copy, "q1r", "branch")
    assert json.loads(signed.payload)["header"]["name"] == "李二"


def test_sign_many_needs_something_to_sign(lw):
    own = lw.user("own_branch_secretary")
    assert "请选择要签字的栏目" in messages(
        lambda: services.ledger_sign_many(by=own, year=YEAR, items=[], today=TODAY)
    )


# ---------------------------------------------------------------- withdrawal


def signed_pledge_section(lw):
    m1b = lw.members["m1b"]
    lower = sign(lw.user("member_self"), m1b, "pledge", "member")
    upper = sign(lw.user("own_branch_secretary"), m1b, "pledge", "branch")
    return m1b, lower, upper


def test_withdrawing_the_lower_signature_withdraws_the_upper(lw):
    m1b, lower, upper = signed_pledge_section(lw)
    assert Lock.objects.filter(signature__in=[lower, upper]).exists()
    gone = services.signature_withdraw(
        by=lw.user("member_self"), signature=lower, reason="承诺内容需调整"
    )
    assert [s.pk for s in gone] == [upper.pk, lower.pk]
    for row in (lower, upper):
        row.refresh_from_db()
        assert row.withdrawn_name == "李二" and row.withdraw_reason == "承诺内容需调整"
    # the lock rows stay as the record of what was held; the withdrawal released them
    assert Lock.objects.filter(signature__in=[lower, upper]).exists()
    assert view_of(m1b).section("pledge").state == READY
    events = LedgerEvent.objects.filter(action="withdraw").order_by("pk")
    assert [e.slot for e in events] == ["branch", "member"]
    assert "撤回王书记（党支部书记）2026年01月20日的签字：承诺内容需调整" in events[0].comment


def test_withdrawing_the_upper_signature_keeps_the_lower(lw):
    m1b, lower, upper = signed_pledge_section(lw)
    services.signature_withdraw(by=lw.user("own_branch_secretary"), signature=upper, reason="签错")
    section = view_of(m1b).section("pledge")
    assert list(section.signatures) == ["member"] and section.state == PARTLY
    # and it may be signed again: the chain goes on
    again = sign(lw.user("own_branch_secretary"), m1b, "pledge", "branch")
    assert again.seq == 3 and again.prev_hash == upper.chain_hash


@pytest.mark.parametrize(
    "who, allowed",
    [
        ("own_branch_secretary", True),  # the signer
        ("parent_committee_secretary", True),  # the secretary above the branch
        ("own_branch_deputy", False),  # the branch, but not the signer
        ("member_self", False),
        ("sibling_branch_secretary", False),
        ("county_secretary", False),
        ("office_inside", False),
        ("contact_leader", False),
    ],
)
def test_only_the_signer_or_the_secretary_above_withdraws(lw, who, allowed):
    signed = sign(lw.user("own_branch_secretary"), lw.members["m1"], "q1r", "branch")
    withdraw = lambda: services.signature_withdraw(by=lw.user(who), signature=signed, reason="重签")  # noqa: E731
    if allowed:
        assert withdraw()[0].pk == signed.pk
    else:
        assert "只有签字人本人或上一级党组织书记可以撤回此签字" in messages(withdraw)
        signed.refresh_from_db()
        assert signed.withdrawn_at is None


def test_a_signer_who_left_the_post_no_longer_withdraws(lw):
    deputy = lw.user("own_branch_deputy")
    signed = sign(deputy, lw.members["m1"], "q1r", "branch")
    org_services.role_revoke(by=None, user=deputy, org=lw.orgs["B1"], role=Role.DEPUTY)
    deputy = make_fresh(deputy)
    refusal = messages(
        lambda: services.signature_withdraw(by=deputy, signature=signed, reason="重签")
    )
    assert "只有签字人本人或上一级党组织书记" in refusal


def test_the_branch_withdraws_a_paper_signature_it_recorded(lw):
    own, m1 = lw.user("own_branch_secretary"), lw.members["m1"]
    signed = sign(own, m1, "q1", "member", paper_on=datetime.date(2026, 1, 5))
    assert services.signature_withdraw(
        by=lw.user("own_branch_deputy"), signature=signed, reason="日期记错"
    )


def test_a_withdrawal_needs_a_reason_and_happens_once(lw):
    signed = sign(lw.user("own_branch_secretary"), lw.members["m1"], "q1r", "branch")
    own = lw.user("own_branch_secretary")
    assert "请填写撤回理由" in messages(
        lambda: services.signature_withdraw(by=own, signature=signed, reason=" \x00 ")
    )
    assert "不能超过500字" in messages(
        lambda: services.signature_withdraw(by=own, signature=signed, reason="长" * 501)
    )
    services.signature_withdraw(by=own, signature=signed, reason="重签\x00")
    signed.refresh_from_db()
    assert signed.withdraw_reason == "重签"
    assert "已于" in messages(
        lambda: services.signature_withdraw(by=own, signature=signed, reason="再撤")
    )


# ---------------------------------------------------------------- a member who moved


@pytest.fixture
def moved(lw):
    return lw, transfer_m2(lw)


def test_a_moved_members_quarters_belong_to_the_branch_at_each_quarters_end(moved):
    lw, m2 = moved
    view = view_of(m2)
    owners = {s.key: s.owner.code for s in view.sections}
    assert owners == {
        "pledge": "B1",
        "q1": "B2",
        "q1r": "B2",
        "q2": "B2",
        "q2r": "B2",
        "q3": "B1",
        "q3r": "B1",
        "q4": "B1",
        "q4r": "B1",
        "year": "B1",
    }
    assert view.keeper == lw.orgs["B1"] and view.header["org_name"] == "组织B1"


def test_each_branch_signs_its_own_quarters_of_a_moved_member(moved):
    lw, m2 = moved
    own, sibling = lw.user("own_branch_secretary"), lw.user("sibling_branch_secretary")
    assert "此栏应由组织B2的书记" in messages(lambda: sign(own, m2, "q2r", "branch"))
    assert "此栏应由组织B1的书记" in messages(lambda: sign(sibling, m2, "q3r", "branch"))
    old = sign(sibling, m2, "q2r", "branch")
    new = sign(own, m2, "q3r", "branch")
    assert (old.org, old.capacity) == (lw.orgs["B2"], "党支部书记")
    assert (new.org, new.signer_name) == (lw.orgs["B1"], "王书记")
    # a paper signature of the member's own line is the branch's of that quarter, too
    assert "只有组织B2的书记" in messages(
        lambda: sign(own, m2, "q2", "member", paper_on=datetime.date(2026, 1, 5))
    )
    note(sibling, m2, "q2", "missing", "调出前未承诺")
    assert (
        sign(sibling, m2, "q2", "member", paper_on=datetime.date(2026, 1, 5)).org == lw.orgs["B2"]
    )
    assert len({s.ledger_id for s in Signature.objects.all()}) == 1  # one ledger for the year


def test_the_old_branch_still_reads_the_moved_members_ledger_of_that_year(moved):
    lw, m2 = moved
    sibling = lw.user("sibling_branch_secretary")
    with pytest.raises(Http404):
        access.get_member_for_ledger(sibling, m2.pk)
    assert access.get_member_for_ledger(sibling, m2.pk, year=YEAR) == m2
    with pytest.raises(Http404):
        access.get_member_for_ledger(sibling, m2.pk, year=YEAR + 1)
    with pytest.raises(Http404):
        access.get_member_for_ledger(lw.user("unrelated_committee_secretary"), m2.pk, year=YEAR)
    assert access.get_member_for_ledger(lw.user("own_branch_secretary"), m2.pk) == m2


def test_the_review_of_the_branch_at_the_quarters_end_comes_first(moved):
    """Two signed reviews of one quarter (one written before a back-dated move): the ledger
    takes the one of the branch on the roll at the quarter's end, whichever is newer."""
    lw, m2 = moved
    older = LeaderReview.objects.get(subject_member=m2, period=2)  # by B2, before the move
    newer = LeaderReview.objects.get(subject_member=m2, period=3)  # by B1
    assert view_of(m2).section("q3r").live["review"]["id"] == newer.pk
    # as if B2 had written Q3, and signed it last (a correction after a back-dated move)
    LeaderReview.objects.filter(pk=older.pk).update(
        period=3, signed_at=newer.signed_at + datetime.timedelta(days=1)
    )
    found = signed_reviews_by_subject(year=YEAR, member_ids=[m2.pk])
    assert found[(m2.pk, 3)].pk == older.pk  # the latest, without knowing the roll
    found = signed_reviews_by_subject(
        year=YEAR, member_ids=[m2.pk], branch_at={(m2.pk, 3): lw.orgs["B1"].pk}
    )
    assert found[(m2.pk, 3)].pk == newer.pk
    assert view_of(m2).section("q3r").live["review"]["id"] == newer.pk  # B1's: on the roll


def test_the_branch_grid_shows_members_who_left_during_the_year(moved):
    lw, m2 = moved
    grid = selectors.branch_grid(org=lw.orgs["B2"], year=YEAR, today=TODAY)
    [row] = [v for v in grid if v.member == m2]
    assert row.section("q2r").owner == lw.orgs["B2"]
    assert row.section("q3r").owner == lw.orgs["B1"]


def test_a_ledger_opened_before_the_move_follows_the_member(lw):
    own = lw.user("sibling_branch_secretary")
    services.ledgers_open(by=own, org=lw.orgs["B2"], year=YEAR, today=TODAY)
    assert Ledger.objects.get(member=lw.members["m2"]).keeper == lw.orgs["B2"]
    m2 = transfer_m2(lw)
    assert Ledger.objects.get(member=m2).keeper == lw.orgs["B1"]


# ---------------------------------------------------------------- the hash chain


def test_the_chain_verifies_across_signatures_and_withdrawals(lw):
    m1b, lower, upper = signed_pledge_section(lw)
    sign(lw.user("member_self"), m1b, "q1", "member")
    services.signature_withdraw(by=lw.user("member_self"), signature=lower, reason="调整")
    sign(lw.user("member_self"), m1b, "pledge", "member")
    ledger = Ledger.objects.get(member=m1b)
    signatures = selectors.ledger_signatures(ledger=ledger)
    assert [s.seq for s in signatures] == [1, 2, 3, 4]
    verdict = chain.verify(ledger, signatures)
    assert verdict.ok and verdict.checked == 4 and verdict.head == ledger.head
    assert view_of(m1b).short_hash == ledger.head[:12]

    # any change to what was signed, or to the order, shows
    forged = selectors.ledger_signatures(ledger=ledger)
    content = json.loads(forged[0].payload)
    content["content"]["pledges"][0]["content"] = "改过的承诺"
    forged[0].payload = chain.canonical(content)
    assert "签字内容与其摘要不符" in " ".join(chain.verify(ledger, forged).problems)
    forged = selectors.ledger_signatures(ledger=ledger)
    forged[1].content_hash = chain.sha256(forged[1].payload + " ")
    assert not chain.verify(ledger, forged).ok
    dropped = selectors.ledger_signatures(ledger=ledger)[1:]
    assert "序号不连续" in " ".join(chain.verify(ledger, dropped).problems)


def test_the_snapshot_is_exactly_what_was_shown(lw):
    own, m1 = lw.user("own_branch_secretary"), lw.members["m1"]
    shown = view_of(m1).section("pledge")
    signed = sign(own, m1, "pledge", "member", paper_on=datetime.date(2026, 1, 5))
    payload = json.loads(signed.payload)
    assert payload["content"] == shown.live
    assert payload["header"] == view_of(m1).header
    assert (payload["section"], payload["heading"], payload["group"]) == (
        "pledge",
        "公开承诺事项",
        "承诺写实",
    )
    assert signed.content_hash == chain.sha256(signed.payload)
    # what is shown from now on is the snapshot: a pledge approved afterwards is in the live
    # assembly, not in the signed section; the upper line signs the same snapshot
    pledge(lw, by=own, owner_member=m1, vetter=own, kind="immediate",
           immediate_reason="emergency", content="抢险救灾", target="值守5次")  # fmt: skip
    section = view_of(m1).section("pledge")
    assert section.content == shown.live
    assert "抢险救灾" in [p["content"] for p in section.live["pledges"]]
    upper = sign(own, m1, "pledge", "branch")
    assert json.loads(upper.payload)["content"] == shown.live


def test_a_signature_locks_the_records_it_was_built_from(lw):
    own, m1 = lw.user("own_branch_secretary"), lw.members["m1"]
    signed = sign(own, m1, "q4", "member", paper_on=datetime.date(2026, 1, 5))
    locked = set(Lock.objects.filter(signature=signed).values_list("source", "object_id"))
    assert ("fulfilment", lw.extra["fulfilled"][4].pk) in locked
    assert ("pledge", lw.extra["oral"].pk) in locked and (
        "pledge",
        lw.extra["immediate"].pk,
    ) in locked
    header = sign(own, m1, "pledge", "member", paper_on=datetime.date(2026, 1, 5))
    assert Lock.objects.get(signature=header, source="member").until == datetime.date(YEAR, 12, 31)


# ---------------------------------------------------------------- notes


def test_notes_are_refused_on_a_signed_section(lw):
    own, m1 = lw.user("own_branch_secretary"), lw.members["m1"]
    note(own, m1, "q1r", "supplement", "另附：走访记录三页")
    sign(own, m1, "q1r", "branch")
    refusal = messages(lambda: note(own, m1, "q1r", "supplement", "再补一页"))
    assert "已由王书记于2026年01月20日签字，不能再修改" in refusal
    assert "已由王书记" in messages(lambda: note(own, m1, "q1r", "supplement", ""))  # nor deleted
    assert LedgerNote.objects.get(section="q1r").text == "另附：走访记录三页"
    note(own, m1, "year", "summary", "全年坚持读报")
    sign(own, m1, "year", "branch")
    assert "不能再修改" in messages(lambda: note(own, m1, "year", "draft", "初稿"))


def test_the_summary_starts_from_the_members_draft_and_is_the_keepers(lw):
    me, own, m1b = lw.user("member_self"), lw.user("own_branch_secretary"), lw.members["m1b"]
    note(me, m1b, "year", "draft", "全年参加志愿服务四次")
    assert "此项由组织B1书记填写" in messages(lambda: note(me, m1b, "year", "summary", "自己写"))
    year = view_of(m1b).section("year")
    assert year.notes["draft"].text == "全年参加志愿服务四次" and year.state == MISSING
    note(own, m1b, "year", "summary", "全年参加志愿服务四次，表现较好")
    year = view_of(m1b).section("year")
    assert year.live["summary"] == "全年参加志愿服务四次，表现较好"
    assert year.state == READY and not year.missing
    assert year.notes["summary"].by_name == "王书记"
    signed = sign(own, m1b, "year", "branch")
    assert json.loads(signed.payload)["content"]["summary"] == "全年参加志愿服务四次，表现较好"
    assert "draft" not in json.loads(signed.payload)["content"]


def test_the_organisations_summary_is_the_parents(lw):
    own, parent, B1 = (
        lw.user("own_branch_secretary"),
        lw.user("parent_committee_secretary"),
        lw.orgs["B1"],
    )
    note(own, B1, "year", "draft", "本支部全年修路两公里")
    assert "此项由组织T1书记填写" in messages(lambda: note(own, B1, "year", "summary", "自评"))
    note(parent, B1, "year", "summary", "该支部全年修路两公里")
    assert view_of(B1).section("year").live["summary"] == "该支部全年修路两公里"
    assert sign(parent, B1, "year", "upper").slot == "upper"


@pytest.mark.parametrize(
    "who, subject, section, kind, refused",
    [
        ("member_self", "m1b", "pledge", "supplement", ""),  # a line the member signs
        ("member_self", "m1b", "q1r", "supplement", "此项由组织B1书记填写"),
        ("member_self", "m1b", "year", "draft", ""),
        ("member_self", "m1", "year", "draft", "初稿由党员本人"),  # someone else's
        ("own_branch_deputy", "m1", "q3", "missing", ""),
        ("sibling_branch_secretary", "m1", "q3", "missing", "此项由组织B1书记填写"),
        ("sibling_branch_secretary", "m1", "q1", "supplement", "此项由组织B1书记填写"),
        ("office_inside", "m1", "year", "summary", "此项由组织B1书记填写"),
        ("parent_committee_secretary", "m1", "year", "summary", "此项由组织B1书记填写"),
        ("sibling_branch_secretary", "m1", "year", "draft", "初稿由党员本人"),
        ("own_branch_secretary", "B1", "h2", "missing", "此项由组织T1书记填写"),
        ("parent_committee_secretary", "B1", "h2", "missing", ""),
        ("own_branch_secretary", "B1", "year", "draft", ""),
    ],
)
def test_who_writes_which_note(lw, who, subject, section, kind, refused):
    subject = lw.orgs[subject] if subject in lw.orgs else lw.members[subject]
    save = lambda: note(lw.user(who), subject, section, kind, "说明")  # noqa: E731
    if not refused:
        assert save().text == "说明"
    else:
        assert refused in messages(save)
        assert not LedgerNote.objects.exists()


def test_note_text_is_cleaned_and_bounded(lw):
    own, m1 = lw.user("own_branch_secretary"), lw.members["m1"]
    saved = note(own, m1, "q1", "supplement", "  第一行\x00\n第二行\x07\t完  ")
    assert saved.text == "第一行\n第二行\t完"
    assert "不能超过4000字（现有4001字）" in messages(
        lambda: note(own, m1, "q1", "supplement", "字" * 4001)
    )
    assert len(note(own, m1, "q1", "supplement", "字" * 4000).text) == 4000
    assert "简要总结只在“年度写实”中填写" in messages(lambda: note(own, m1, "q1", "summary", "x"))
    assert "类别有误" in messages(lambda: note(own, m1, "q1", "other", "x"))
    assert "没有这个栏目" in messages(lambda: note(own, m1, "h1", "supplement", "x"))
    assert note(own, m1, "q1", "supplement", "") is None
    assert not LedgerNote.objects.filter(section="q1").exists()


def test_a_note_is_part_of_what_is_signed(lw):
    own, m1 = lw.user("own_branch_secretary"), lw.members["m1"]
    note(own, m1, "q1r", "supplement", "另附：走访记录")
    signed = sign(own, m1, "q1r", "branch")
    assert json.loads(signed.payload)["content"]["supplement"] == "另附：走访记录"
    kept = LedgerNote.objects.get(section="q1r")
    assert Lock.objects.filter(signature=signed, source="note", object_id=kept.pk).exists()


# ---------------------------------------------------------------- opening and the history


def test_opening_a_branchs_ledgers_and_its_childrens(lw):
    own, parent = lw.user("own_branch_secretary"), lw.user("parent_committee_secretary")
    assert "只有组织B1的书记或副书记可以建立写实簿" in messages(
        lambda: services.ledgers_open(by=parent, org=lw.orgs["B1"], year=YEAR, today=TODAY)
    )
    assert services.ledgers_open(by=own, org=lw.orgs["B1"], year=YEAR, today=TODAY) == 3
    assert services.ledgers_open(by=own, org=lw.orgs["B1"], year=YEAR, today=TODAY) == 0
    assert services.ledgers_open(by=parent, org=lw.orgs["T1"], year=YEAR, today=TODAY) == 3
    kept = {(ledger.kind, ledger.keeper.code) for ledger in Ledger.objects.all()}
    assert kept == {("member", "B1"), ("member", "T1"), ("org", "T1")}
    assert set(Ledger.objects.filter(kind="org").values_list("subject_org__code", flat=True)) == {
        "B1",
        "B2",
    }
    assert LedgerEvent.objects.filter(action="open").count() == Ledger.objects.count() == 6
    assert set(LedgerEvent.objects.values_list("actor_name", flat=True)) == {"王书记", "赵书记"}


def test_the_history_has_every_step(lw):
    own, m1 = lw.user("own_branch_secretary"), lw.members["m1"]
    note(own, m1, "q1", "supplement", "附页")
    note(own, m1, "q1", "supplement", "")
    signed = sign(own, m1, "q1", "member", paper_on=datetime.date(2026, 1, 5))
    sign(own, m1, "q1r", "branch")
    services.signature_withdraw(by=own, signature=signed, reason="日期有误")
    ledger = Ledger.objects.get(member=m1)
    history = list(selectors.ledger_history(ledger=ledger))
    assert [e.action for e in reversed(history)] == [
        "open",
        "note",
        "note_clear",
        "paper",
        "sign",
        "withdraw",
    ]
    assert all(e.actor_name == "王书记" for e in history)
    assert history[0].comment.endswith("：日期有误") and history[0].section == "q1"
    assert [e.action_label for e in history][:2] == ["撤回签字", "签字"]


# ---------------------------------------------------------------- concurrent signing


postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL"
)


def race(calls) -> list:
    """Run the calls in two threads at once; each outcome is "ok" or the refusal's message."""
    start = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def run(i):
        try:
            start.wait(timeout=10)
            calls[i]()
            outcomes[i] = "ok"
        except ValidationError as error:
            outcomes[i] = " ".join(error.messages)
        except Exception as error:  # noqa: BLE001 - the test reports what went wrong
            outcomes[i] = repr(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def held_after_assembly(monkeypatch):
    """Both requests assemble the ledger before either takes its row (a barrier holds them at
    `_open`)."""
    real = services._open
    assembled = threading.Barrier(2)

    def after_assembly(*args, **kwargs):
        assembled.wait(timeout=10)
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "_open", after_assembly)


@postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("opened", [False, True])
def test_two_tabs_signing_the_same_line_make_one_signature(monkeypatch, opened):
    """One signs; the other waits for the ledger's row, reads again and is refused."""
    p = build_ledger_world(build_personas())
    own, m1 = p.user("own_branch_secretary"), p.members["m1"]
    if opened:
        services.ledgers_open(by=own, org=p.orgs["B1"], year=YEAR, today=TODAY)
    view_of(m1)  # the page both tabs show (it writes the year's default calendar once)
    held_after_assembly(monkeypatch)
    outcomes = race(
        [lambda: sign(own, m1, "q1r", "branch"), lambda: sign(own, m1, "q1r", "branch")]
    )
    assert outcomes.count("ok") == 1, outcomes
    assert any("已由王书记于2026年01月20日签字" in o for o in outcomes if o != "ok"), outcomes
    assert Signature.objects.filter(ledger__member=m1).count() == 1
    ledger = Ledger.objects.get(member=m1)
    assert ledger.signature_count == 1 and selectors.ledger_verdict(ledger=ledger).ok


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_lines_signed_at_once_take_the_next_links_in_turn(monkeypatch):
    p = build_ledger_world(build_personas())
    own, deputy, m1 = p.user("own_branch_secretary"), p.user("own_branch_deputy"), p.members["m1"]
    services.ledgers_open(by=own, org=p.orgs["B1"], year=YEAR, today=TODAY)
    view_of(m1)
    held_after_assembly(monkeypatch)
    outcomes = race(
        [lambda: sign(own, m1, "q1r", "branch"), lambda: sign(deputy, m1, "q4r", "branch")]
    )
    assert outcomes == ["ok", "ok"], outcomes
    ledger = Ledger.objects.get(member=m1)
    assert sorted(s.seq for s in Signature.objects.filter(ledger=ledger)) == [1, 2]
    assert selectors.ledger_verdict(ledger=ledger).ok


# ---------------------------------------------------------------- query bounds


def count_queries(call) -> int:
    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured.captured_queries)


def grow(lw, n, *, start):
    made = add_members(lw, n, prefix=f"队员{start}")
    own = lw.user("own_branch_secretary")
    for member in made:
        note(own, member, "q1", "supplement", "附页")
        sign(own, member, "q1r", "branch")
    return made


def test_member_ledgers_and_the_branch_grid_cost_the_same_for_any_number(moved):
    """member_ledgers: the memberships; the pledges and their fulfilment reports; the signed
    reviews; the exemptions; the appraisal entries and the sessions that left someone out; the
    ledgers, their live signatures and their notes; the calendar rows and the offices' pledge
    windows — 12. branch_grid adds the members of the year (13)."""
    lw, _ = moved
    B1 = lw.orgs["B1"]
    grow(lw, 2, start="a")
    counts = []
    for extra in (0, 5):
        grow(lw, extra, start="b")
        members = list(selectors.kept_members(org=B1, year=YEAR, today=TODAY))
        selectors.branch_grid(org=B1, year=YEAR, today=TODAY)  # the year's calendar written once
        counts.append(
            (
                len(members),
                count_queries(
                    lambda m=members: services.member_ledgers(year=YEAR, members=m, today=TODAY)
                ),
                count_queries(lambda: selectors.branch_grid(org=B1, year=YEAR, today=TODAY)),
            )
        )
    (small, ledgers_small, grid_small), (large, ledgers_large, grid_large) = counts
    assert large == small + 5
    assert ledgers_small == ledgers_large <= 12
    assert grid_small == grid_large <= 13


def test_org_ledgers_and_the_childrens_grid_cost_the_same_for_any_number(lw):
    """org_ledgers: the pledges and their reports; the signed reviews; the exemptions; the
    appraisal entries and the sessions that left someone out; the member counts and the
    activists; the ledgers, signatures and notes; the calendar rows and the offices' pledge
    windows — 13. children_grid adds the children (14)."""
    T1, parent = lw.orgs["T1"], lw.user("parent_committee_secretary")
    sign(lw.user("own_branch_secretary"), lw.orgs["B1"], "pledge", "org")
    sign(parent, lw.orgs["B1"], "pledge", "upper")
    counts = []
    for n in (0, 4):
        for i in range(n):
            child = make_org(f"NB{i}", OrgKind.BRANCH, T1)
            make_member(child, f"新党员{i}")
            org_services.org_year_figure_set(by=parent, org=child, year=YEAR, activist_count=i)
            note(parent, child, "year", "summary", f"总结{i}")
        T1.refresh_from_db()
        children = selectors.kept_orgs(org=T1)
        selectors.children_grid(org=T1, year=YEAR, today=TODAY)
        counts.append(
            (
                len(children),
                count_queries(
                    lambda c=children: services.org_ledgers(year=YEAR, orgs=c, today=TODAY)
                ),
                count_queries(lambda: selectors.children_grid(org=T1, year=YEAR, today=TODAY)),
            )
        )
    (small, ledgers_small, grid_small), (large, ledgers_large, grid_large) = counts
    assert large == small + 4
    assert ledgers_small == ledgers_large <= 13
    assert grid_small == grid_large <= 14


def test_the_inspection_costs_the_same_for_any_number(lw):
    """inspection: the county's committees; the members grouped by branch with their signature
    counts; the organisations with theirs — 3."""
    K1 = lw.orgs["K1"]
    half = Period(YEAR, "H", 1)
    counts = []
    for n in (0, 3):
        for i in range(n):
            committee = make_org(f"NT{i}", OrgKind.COMMITTEE, K1)
            branch = make_org(f"NTB{i}", OrgKind.BRANCH, committee)
            make_member(branch, f"新党员{i}")
        grow(lw, n, start=f"c{n}")
        K1.refresh_from_db()
        counts.append(
            (
                len(selectors.inspection(county=K1, half=half)),
                count_queries(lambda: selectors.inspection(county=K1, half=half)),
            )
        )
    (small, queries_small), (large, queries_large) = counts
    assert large == small + 3
    assert queries_small == queries_large <= 3


def test_the_inspection_has_a_row_for_a_branch_directly_under_the_county(lw):
    K1 = lw.orgs["K1"]
    organ = make_org("KB", OrgKind.BRANCH, K1)
    make_member(organ, "机关党员")
    make_member(organ, "机关党员二")
    rows = {row.org.code: row for row in selectors.inspection(county=K1, half=Period(YEAR, "H", 2))}
    assert set(rows) == {"T1", "KB"}
    assert (rows["KB"].members, rows["KB"].orgs) == (2, 0)  # its own ledger is the county's
    assert (rows["T1"].members, rows["T1"].orgs) == (5, 2)


def test_a_member_who_joined_mid_half_year_completes_without_the_quarters_before(lw):
    own = lw.user("own_branch_secretary")
    newcomer = make_member(lw.orgs["B1"], "新党员", since=d(5, 10))
    make_member(lw.orgs["B1"], "明年入党", since=datetime.date(YEAR + 1, 2, 1))  # not in 2025
    user = make_user("newcomer", Role.MEMBER, lw.orgs["B1"])
    org_services.member_update(by=None, member=newcomer, user=user)
    newcomer.refresh_from_db()
    made = pledge(lw, by=own, owner_member=newcomer, vetter=own, content="新党员承诺")
    fulfil(own, made, 2, "二季度报告")
    review(own, member=newcomer, period=Period(YEAR, "Q", 2))
    half = Period(YEAR, "H", 1)
    [row] = selectors.inspection(county=lw.orgs["K1"], half=half)
    assert (row.members, row.members_complete) == (6, 0)
    sign(user, newcomer, "pledge", "member")
    sign(own, newcomer, "pledge", "branch")
    sign(user, newcomer, "q2", "member")
    assert newcomer in set(selectors.unsigned_members(within=lw.orgs["B1"], half=half))
    sign(own, newcomer, "q2r", "branch")
    assert view_of(newcomer).is_complete is False  # the second half is still to come
    [row] = selectors.inspection(county=lw.orgs["K1"], half=half)
    assert (row.members, row.members_complete) == (6, 1)
    assert newcomer not in set(selectors.unsigned_members(within=lw.orgs["B1"], half=half))


def test_the_inspection_counts_complete_ledgers_per_committee(lw):
    """H1 of a member ledger: 承诺写实 (two lines) and the first two quarters (four) — 6."""
    own, me, m1b = lw.user("own_branch_secretary"), lw.user("member_self"), lw.members["m1b"]
    half = Period(YEAR, "H", 1)
    [row] = selectors.inspection(county=lw.orgs["K1"], half=half)
    # 李一, 李二, 王书记 (B1), 王二 (B2), 赵书记 (on T1's own roll); B1 and B2
    assert (row.org.code, row.members, row.members_complete, row.orgs, row.orgs_complete) == (
        "T1",
        5,
        0,
        2,
        0,
    )
    sign(me, m1b, "pledge", "member")
    sign(own, m1b, "pledge", "branch")
    sign(me, m1b, "q1", "member")
    sign(own, m1b, "q1r", "branch")
    sign(me, m1b, "q2", "member")
    review_services.exemption_grant(
        by=lw.user("parent_committee_secretary"), period=Period(YEAR, "Q", 2),
        subject_kind="member", subject_member=m1b, reason="外出",
    )  # fmt: skip
    [row] = selectors.inspection(county=lw.orgs["K1"], half=half)
    assert row.members_complete == 0  # one line short
    sign(own, m1b, "q2r", "branch")
    [row] = selectors.inspection(county=lw.orgs["K1"], half=half)
    assert (row.members, row.members_complete) == (5, 1)
    assert view_of(m1b).signed_count == 5
    unsigned = set(selectors.unsigned_members(within=lw.orgs["T1"], half=half))
    assert m1b not in unsigned and lw.members["m1"] in unsigned
    # an organisation's H1: 承诺写实 (two lines), 上半年 and its review — 4
    parent, B1 = lw.user("parent_committee_secretary"), lw.orgs["B1"]
    sign(own, B1, "pledge", "org")
    sign(parent, B1, "pledge", "upper")
    sign(own, B1, "h1", "org")
    assert selectors.inspection(county=lw.orgs["K1"], half=half)[0].orgs_complete == 0
    sign(parent, B1, "h1r", "upper")
    [row] = selectors.inspection(county=lw.orgs["K1"], half=half)
    assert (row.orgs, row.orgs_complete, row.orgs_open) == (2, 1, 1)
    assert list(selectors.unsigned_orgs(within=lw.orgs["T1"], half=half)) == [lw.orgs["B2"]]
