"""Democratic appraisal services: every state and every refusal."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from orgs import figures as kept_figures
from orgs.models import OfficeSetting, Role
from orgs.numbers import percent_text
from orgs.periods import Period
from reviews.appraisal import codes, rules, selectors, services, tally
from reviews.appraisal.models import (
    Appraisal,
    AppraisalEvent,
    AppraisalState,
    Ballot,
    PaperCount,
    Slip,
)
from tests.appraisal_world import TODAY, cast, open_appraisal, plan_fields
from tests.personas import make_user

pytestmark = pytest.mark.django_db


def refused(fn, *args, match=None, **kwargs):
    with pytest.raises(ValidationError) as info:
        fn(*args, **kwargs)
    if match:
        assert any(match in m for m in info.value.messages), info.value.messages
    return info.value


@pytest.fixture
def own(personas):
    return personas.user("own_branch_secretary")


@pytest.fixture
def deputy(personas):
    return make_user("deputy", Role.DEPUTY, personas.orgs["B1"])


def create(p, by, **extra):
    fields = plan_fields() | extra
    kind = fields.pop("kind", "member")
    year = fields.pop("year", 2026)
    org = fields.pop("org", p.orgs["B1"])
    return services.appraisal_create(by=by, org=org, kind=kind, year=year, today=TODAY, **fields)


# ---------------------------------------------------------------- plan


def test_plan_lists_the_roll_and_the_basic_organisations(personas, own):
    appraisal = create(personas, own)
    assert appraisal.state == AppraisalState.PLAN
    assert [s.name for s in appraisal.subjects.all()] == ["李一", "李二"]
    assert [s.position for s in appraisal.subjects.all()] == [1, 2]
    parent = personas.user("parent_committee_secretary")
    orgs = create(personas, parent, org=personas.orgs["T1"], kind="org")
    assert [s.subject_org_id for s in orgs.subjects.all()] == [
        personas.orgs["B1"].pk,
        personas.orgs["B2"].pk,
    ]
    assert AppraisalEvent.objects.filter(appraisal=orgs, action="create").exists()


def test_plan_refusals(personas, own):
    parent = personas.user("parent_committee_secretary")
    refused(create, personas, parent, match="书记或副书记")  # B1 is run by its own branch
    refused(create, personas, own, kind="org", match="没有基层党组织")
    refused(create, personas, own, place=" ", match="评议地点")
    refused(create, personas, own, content="", match="评议内容")
    refused(create, personas, own, method="vote", match="评议方式")
    refused(create, personas, own, held_on=datetime.date(2025, 12, 1), match="2026年内")
    refused(create, personas, own, expected_member=0, expected_masses=0, match="人数")
    refused(create, personas, own, expected_leader=3, match="应为 0")
    refused(create, personas, own, year=2030, match="年度")
    create(personas, own)
    refused(create, personas, own, match="已经有方案")
    assert Appraisal.objects.count() == 1


def test_plan_edits_only_in_plan_and_resyncs_the_roll(personas, own):
    appraisal = create(personas, own)
    services.appraisal_update(
        by=own, appraisal=appraisal, today=TODAY, **plan_fields(place="党员活动室")
    )
    appraisal.refresh_from_db()
    assert appraisal.place == "党员活动室"
    assert appraisal.subjects.count() == 2
    services.appraisal_advance(by=own, appraisal=appraisal)
    refused(
        services.appraisal_update,
        by=own,
        appraisal=appraisal,
        today=TODAY,
        **plan_fields(),
        match="公开述职",
    )


def test_the_four_steps_in_order(personas, own):
    appraisal = create(personas, own)
    appraisal = services.appraisal_advance(by=own, appraisal=appraisal)
    assert appraisal.state == AppraisalState.STATEMENTS
    appraisal = services.appraisal_advance(by=own, appraisal=appraisal)
    assert appraisal.state == AppraisalState.VOTING
    assert appraisal.subject_count == 2
    refused(services.appraisal_advance, by=own, appraisal=appraisal, match="组织评议")
    refused(services.appraisal_publish, by=own, appraisal=appraisal, match="组织评议")
    refused(
        services.appraisal_advance,
        by=personas.user("parent_committee_secretary"),
        appraisal=appraisal,
        match="书记或副书记",
    )


def test_voting_does_not_open_before_the_meeting_date(personas, own):
    appraisal = create(personas, own, held_on=datetime.date(2026, 12, 20))
    appraisal = services.appraisal_advance(by=own, appraisal=appraisal, today=TODAY)
    assert appraisal.state == AppraisalState.STATEMENTS  # statements come before the meeting
    refused(
        services.appraisal_advance,
        by=own,
        appraisal=appraisal,
        today=datetime.date(2026, 12, 19),
        match="评议日期为2026年12月20日，不能提前开始评议",
    )
    appraisal.refresh_from_db()
    assert appraisal.state == AppraisalState.STATEMENTS
    appraisal = services.appraisal_advance(
        by=own, appraisal=appraisal, today=datetime.date(2026, 12, 20)
    )
    assert appraisal.state == AppraisalState.VOTING


# ---------------------------------------------------------------- statements


def test_statements_by_the_member_or_the_secretary(personas, own):
    appraisal = create(personas, own)
    subject = appraisal.subjects.get(member=personas.members["m1b"])
    member_self = personas.user("member_self")
    refused(services.statement_save, by=own, subject=subject, text="述职", match="不能进行")
    services.appraisal_advance(by=own, appraisal=appraisal)
    subject.refresh_from_db()
    services.statement_save(by=member_self, subject=subject, text="全年走访群众 12 次")
    subject.refresh_from_db()
    assert subject.statement == "全年走访群众 12 次" and subject.statement_by == member_self
    other = appraisal.subjects.get(member=personas.members["m1"])
    refused(services.statement_save, by=member_self, subject=other, text="x", match="本人")
    refused(services.statement_save, by=own, subject=other, text="  ", match="请填写")
    services.statement_save(by=own, subject=other, text="代为记录的述职")


# ---------------------------------------------------------------- slips and code ballots


def test_slips_keep_only_a_hash(personas, own):
    appraisal = open_appraisal(personas)
    issued = services.slips_issue(by=own, appraisal=appraisal, group="masses", count=3)
    assert [serial for serial, _ in issued] == [1, 2, 3]
    more = services.slips_issue(by=own, appraisal=appraisal, group="member", count=2)
    assert [serial for serial, _ in more] == [4, 5]
    for serial, code in issued + more:
        parsed_serial, secret = codes.parse(code)
        assert parsed_serial == serial and len(secret) * 5 >= 50
        slip = Slip.objects.get(appraisal=appraisal, serial=serial)
        assert code not in slip.secret_hash and secret not in slip.secret_hash
        assert slip.secret_hash == codes.secret_hash(appraisal.slip_salt, serial, secret)
    # typed loosely: lower case, spaces, O for 0 and I/L for 1
    serial, code = issued[0]
    loose = code.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    assert codes.parse(loose) == codes.parse(code)
    assert len({c for _, c in issued + more}) == 5


def test_slip_refusals(personas, own):
    appraisal = open_appraisal(personas)
    refused(
        services.slips_issue, by=own, appraisal=appraisal, group="leader", count=1, match="类别"
    )
    refused(services.slips_issue, by=own, appraisal=appraisal, group="member", count=0)
    refused(services.slips_issue, by=own, appraisal=appraisal, group="member", count=501)
    paper_only = open_appraisal(personas, year=2025, method="paper")
    refused(
        services.slips_issue, by=own, appraisal=paper_only, group="member", count=1, match="纸质"
    )
    refused(
        services.slips_issue,
        by=personas.user("parent_committee_secretary"),
        appraisal=appraisal,
        group="member",
        count=1,
    )


def test_a_code_casts_one_ballot_and_only_once(personas, own):
    appraisal = open_appraisal(personas)
    (_, code), (_, other) = services.slips_issue(
        by=own, appraisal=appraisal, group="masses", count=2
    )
    assert services.code_check(appraisal=appraisal, code=code).group == "masses"
    cast(appraisal, code, 1, None)
    ballot = Ballot.objects.get()
    assert ballot.group == "masses" and ballot.marks == "10"
    assert Slip.objects.get(serial=1).used
    refused(cast, appraisal, code, 2, 2, match="已经投过票")
    refused(services.code_check, appraisal=appraisal, code=code, match="已经投过票")
    assert Ballot.objects.count() == 1
    # wrong codes: a bad format, a good serial with a wrong secret, an unknown serial
    for bad in ("123", other[:-1] + ("A" if other[-1] != "A" else "B"), "9999" + other[4:]):
        error = refused(cast, appraisal, bad, 1, 1, match="选票码不正确")
        assert isinstance(error, services.CodeRefused)
    refused(
        services.ballot_cast,
        appraisal_id=appraisal.pk,
        code=other,
        marks={3: 1},
        match="不符",
    )
    refused(services.ballot_cast, appraisal_id=appraisal.pk, code=other, marks={1: 7}, match="无效")
    assert not Slip.objects.get(serial=2).used  # a refused ballot leaves the slip unused


def test_no_ballot_before_voting_or_after_closing(personas, own):
    appraisal = create(personas, own)
    (_, code), (_, late) = services.slips_issue(
        by=own, appraisal=appraisal, group="member", count=2
    )
    refused(cast, appraisal, code, 1, 1, match="尚未开始")
    services.appraisal_advance(by=own, appraisal=appraisal)
    services.appraisal_advance(by=own, appraisal=appraisal)
    cast(appraisal, code, 1, 1)
    services.appraisal_close(by=own, appraisal=appraisal)
    refused(cast, appraisal, late, 1, 1, match="已经结束")
    assert not Slip.objects.get(serial=2).used and Ballot.objects.count() == 1


def test_voided_slips_cannot_vote(personas, own):
    appraisal = open_appraisal(personas)
    issued = services.slips_issue(by=own, appraisal=appraisal, group="member", count=3)
    cast(appraisal, issued[0][1], 1, 1)
    assert services.slips_void(by=own, appraisal=appraisal, first=1, last=2) == 1
    refused(cast, appraisal, issued[1][1], 1, 1, match="作废")
    refused(services.slips_void, by=own, appraisal=appraisal, first=1, last=2, match="没有可作废")
    appraisal = services.appraisal_close(by=own, appraisal=appraisal)
    assert appraisal.tally["slips_issued"] == 2 and appraisal.tally["ok"]


# ---------------------------------------------------------------- paper sheets


def figures(counts, issued=10, returned=9, blank=1, spoiled=1):
    return {
        "sheets_issued": issued,
        "sheets_returned": returned,
        "blank_sheets": blank,
        "spoiled_sheets": spoiled,
        "counts": counts,
    }


def test_paper_counts_once_two_tellers_agree(personas, own, deputy):
    appraisal = open_appraisal(personas)
    good = figures([[4, 2, 1, 0, 0], [3, 3, 0, 0, 1]])
    outcome = services.paper_enter(by=own, appraisal=appraisal, group="masses", figures=good)
    assert (outcome.state, outcome.differences) == ("waiting", [])
    wrong = figures([[4, 2, 1, 0, 0], [3, 2, 1, 0, 1]])
    outcome = services.paper_enter(by=deputy, appraisal=appraisal, group="masses", figures=wrong)
    assert outcome.state == "mismatch"
    assert outcome.differences == ["第 2 项“李二”"]
    assert not PaperCount.objects.exists()
    outcome = services.paper_enter(by=deputy, appraisal=appraisal, group="masses", figures=good)
    assert outcome.state == "confirmed"
    count = PaperCount.objects.get()
    assert count.valid_sheets == 7 and count.group == "masses"
    refused(
        services.paper_enter,
        by=own,
        appraisal=appraisal,
        group="masses",
        figures=good,
        match="核对一致",
    )
    appraisal = services.appraisal_close(by=own, appraisal=appraisal)
    t = appraisal.tally
    # blank sheets count as a blank on every subject; spoiled ones are set aside
    assert t["subjects"][0]["total"] == [4, 2, 1, 0, 1]
    assert t["subjects"][1]["total"] == [3, 3, 0, 0, 2]
    assert (t["ballots"], t["blank_ballots"], t["spoiled"]) == (8, 1, 1)
    assert (t["party_participants"], t["mass_participants"]) == (0, 9)


def test_paper_refusals_name_the_row(personas, own, deputy):
    appraisal = open_appraisal(personas)

    def enter(f, group="masses", by=own):
        return services.paper_enter(by=by, appraisal=appraisal, group=group, figures=f)

    refused(enter, figures([[4, 2, 1, 0, 0], [3, 3, 0, 0, 0]]), match="第 2 项“李二”")
    refused(enter, figures([[7, 0, 0, 0, 0]] * 2, returned=11), match="不能多于发出")
    refused(enter, figures([[0] * 5] * 2, returned=1, blank=1, spoiled=1), match="空白表与废表")
    refused(enter, figures([[7, 0, 0, 0, 0]]), match="不符")
    refused(enter, figures([[7, 0, 0, 0, 0]] * 2), group="leader", match="类别")
    refused(enter, figures([[7, 0, 0, 0, 0]] * 2), by=personas.user("parent_committee_secretary"))
    enter(figures([[7, 0, 0, 0, 0]] * 2))
    refused(services.appraisal_close, by=own, appraisal=appraisal, match="还没有两位计票人")
    code_only = open_appraisal(personas, year=2025, method="code")
    refused(
        services.paper_enter,
        by=own,
        appraisal=code_only,
        group="masses",
        figures=figures([[7, 0, 0, 0, 0]] * 2),
        match="扫码",
    )


# ---------------------------------------------------------------- closing, verify, results


def test_close_freezes_a_tally_that_verify_confirms(personas, own, capsys):
    appraisal = open_appraisal(personas)
    issued = services.slips_issue(by=own, appraisal=appraisal, group="member", count=4)
    refused(services.appraisal_close, by=own, appraisal=appraisal, match="还没有任何评议票")
    cast(appraisal, issued[0][1], 1, 4)
    cast(appraisal, issued[1][1], 1, 4)
    cast(appraisal, issued[2][1], None, None)
    appraisal = services.appraisal_close(by=own, appraisal=appraisal)
    assert appraisal.state == AppraisalState.CLOSED and len(appraisal.digest) == 64
    t = appraisal.tally
    assert [s["total"] for s in t["subjects"]] == [[2, 0, 0, 0, 1], [0, 0, 0, 2, 1]]
    assert t["blank_ballots"] == 1 and t["ok"]
    first, second = appraisal.subjects.order_by("position")
    assert first.counts == [2, 0, 0, 0, 1] and first.suggested_grade == "excellent"
    assert second.suggested_grade == "fail"
    call_command("appraisal_verify", str(appraisal.pk))
    assert "计票结果一致，摘要一致" in capsys.readouterr().out
    # a ballot changed behind the system's back is found
    ballot = Ballot.objects.filter(marks="14").first()
    Ballot.objects.filter(pk=ballot.pk).update(marks="11")
    with pytest.raises(CommandError):
        call_command("appraisal_verify", appraisal.public_id)
    assert "计票结果不一致，摘要不一致" in capsys.readouterr().out
    Ballot.objects.filter(pk=ballot.pk).update(marks="14")
    Slip.objects.filter(appraisal=appraisal, serial=4).update(used=True)  # a slip marked used
    result = tally.verify(appraisal)
    assert not result["digest_matches"] and not result["tally"]["ok"]


def test_results_decided_then_published(personas, own):
    appraisal = open_appraisal(personas, expected_masses=0)  # 5 of 6 members vote
    issued = services.slips_issue(by=own, appraisal=appraisal, group="member", count=5)
    for _, code in issued:
        cast(appraisal, code, 1, 2)
    refused(services.results_decide, by=own, appraisal=appraisal, decisions={})
    appraisal = services.appraisal_close(by=own, appraisal=appraisal)
    first, second = appraisal.subjects.order_by("position")
    assert (first.suggested_grade, second.suggested_grade) == ("excellent", "pass")
    refused(services.appraisal_publish, by=own, appraisal=appraisal, match="2 名党员")
    refused(
        services.results_decide,
        by=own,
        appraisal=appraisal,
        decisions={first.pk: ("pass", ""), second.pk: ("pass", "")},
        match="请填写理由",
    )
    assert not appraisal.subjects.exclude(final_grade="").exists()  # all-or-nothing
    refused(
        services.results_decide,
        by=own,
        appraisal=appraisal,
        decisions={first.pk: ("best", "")},
        match="无效",
    )
    services.results_decide(
        by=own,
        appraisal=appraisal,
        decisions={first.pk: ("pass", "年内受过批评教育"), second.pk: ("pass", "")},
    )
    first.refresh_from_db()
    assert first.final_grade == "pass" and first.override_reason == "年内受过批评教育"
    assert selectors.published_entries(member=personas.members["m1"]) == []  # not yet published
    appraisal = services.appraisal_publish(by=own, appraisal=appraisal)
    assert appraisal.state == AppraisalState.PUBLISHED and appraisal.published_at
    [entry] = selectors.published_entries(member=personas.members["m1"])
    assert entry.grade_label == "合格" and entry.counts == [5, 0, 0, 0]
    assert (entry.party_participants, entry.mass_participants) == (5, 0)
    refused(services.results_decide, by=own, appraisal=appraisal, decisions={})


def test_organisation_results_give_a_satisfaction_rate(personas):
    parent = personas.user("parent_committee_secretary")
    appraisal = open_appraisal(
        personas, org="T1", kind="org", by=parent, expected_leader=2, expected_recipient=3
    )
    assert appraisal.groups == ("member", "masses", "leader", "recipient")
    codes_ = services.slips_issue(by=parent, appraisal=appraisal, group="leader", count=4)
    for (_, code), grades in zip(codes_, [(1, 4), (2, 4), (3, 1), (1, None)], strict=True):
        cast(appraisal, code, *grades)
    appraisal = services.appraisal_close(by=parent, appraisal=appraisal)
    b1, b2 = appraisal.subjects.order_by("position")
    assert b1.counts == [2, 1, 1, 0, 0] and b1.satisfaction == 0.75
    assert b2.satisfaction == pytest.approx(1 / 3)
    assert appraisal.tally["party_participants"] == 4  # lower-level leaders count as party
    refused(services.results_decide, by=parent, appraisal=appraisal, decisions={})
    services.appraisal_publish(by=parent, appraisal=appraisal, low_turnout_confirmed=True)
    [entry] = selectors.published_entries(org=personas.orgs["B1"])
    # four ballots: fewer than five, so the record others read gives no counts nor rate
    assert entry.few_ballots and entry.satisfaction is None and entry.counts is None
    assert entry.subject.satisfaction == 0.75  # kept for the running secretary's page


# ---------------------------------------------------------------- the grade rule


@pytest.mark.parametrize(
    "counts, grade",
    [
        ([7, 3, 0, 0, 0], "excellent"),  # 好 70%
        ([6, 4, 0, 0, 0], "pass"),
        ([7, 2, 0, 1, 0], "pass"),  # 差 10% > 5%
        ([2, 2, 5, 1, 9], "basic"),  # 好+较好 40% < 50%
        ([4, 2, 0, 3, 0], "pass"),  # 差 3/9 = 33.3%, just under a third
        ([4, 1, 0, 3, 0], "fail"),  # 差 37.5%
        ([0, 0, 0, 0, 4], ""),  # nobody graded
    ],
)
def test_default_rule(counts, grade):
    assert rules.suggest(counts, rules.DEFAULT) == grade


def test_rule_set_by_an_office_nearest_wins(personas):
    office = personas.user("office_inside")
    values = {
        "excellent_good_min": 60,
        "excellent_poor_max": 0,
        "basic_positive_min": 60,
        "fail_poor_min": 25,
        "commend_satisfaction_min": 95,
        "turnout_min": 50,
    }
    refused(
        services.rule_set,
        by=personas.user("own_branch_secretary"),
        org=personas.orgs["K1"],
        year=2026,
        **values,
        match="办公室",
    )
    refused(
        services.rule_set,
        by=office,
        org=personas.orgs["K1"],
        year=2026,
        **(values | {"excellent_poor_max": 30}),
        match="低于不合格",
    )
    refused(
        services.rule_set,
        by=office,
        org=personas.orgs["K1"],
        year=2026,
        **(values | {"fail_poor_min": 101}),
    )
    services.rule_set(by=office, org=personas.orgs["K1"], year=2026, **values)
    t = rules.thresholds_for(org=personas.orgs["B1"], year=2026)
    assert t.excellent_good_min == 60 and t.set_at == personas.orgs["K1"].name
    assert rules.thresholds_for(org=personas.orgs["B1"], year=2025) == rules.DEFAULT
    assert rules.thresholds_for(org=personas.orgs["B3"], year=2026) == rules.DEFAULT
    services.rule_set(
        by=office, org=personas.orgs["T1"], year=2026, **values | {"fail_poor_min": 50}
    )
    assert rules.thresholds_for(org=personas.orgs["B1"], year=2026).fail_poor_min == 50
    assert OfficeSetting.objects.filter(key=rules.GRADE_RULE.key).count() == 2


def test_a_member_may_be_a_teller_and_the_secretary_may_clear_entries(personas, own):
    appraisal = open_appraisal(personas)
    member = personas.user("member_self")  # a member of B1 with a login
    good = figures([[4, 2, 1, 0, 0], [3, 3, 0, 0, 1]])
    services.paper_enter(by=member, appraisal=appraisal, group="member", figures=good)
    refused(services.paper_discard, by=member, appraisal=appraisal, group="member")
    assert services.paper_discard(by=own, appraisal=appraisal, group="member") == 1
    refused(services.paper_discard, by=own, appraisal=appraisal, group="member", match="没有")
    services.paper_enter(by=member, appraisal=appraisal, group="member", figures=good)
    assert (
        services.paper_enter(by=own, appraisal=appraisal, group="member", figures=good).state
        == "confirmed"
    )
    refused(services.paper_discard, by=own, appraisal=appraisal, group="member", match="核对一致")
    outsider = personas.user("sibling_branch_secretary")
    refused(services.paper_enter, by=outsider, appraisal=appraisal, group="masses", figures=good)


def test_a_session_of_spoiled_sheets_only_can_still_close(personas, own, deputy):
    appraisal = open_appraisal(personas)
    spoiled = figures([[0] * 5, [0] * 5], issued=3, returned=3, blank=0, spoiled=3)
    for teller in (own, deputy):
        services.paper_enter(by=teller, appraisal=appraisal, group="member", figures=spoiled)
    appraisal = services.appraisal_close(by=own, appraisal=appraisal)
    assert appraisal.tally["ballots"] == 0 and appraisal.tally["spoiled"] == 3
    assert appraisal.tally["party_participants"] == 3


def test_small_groups_are_never_shown_apart(personas, own):
    """Six party members and two masses: an ordinary member sees the totals only, since the
    party row beside them would give the masses' two ballots away."""
    appraisal = open_appraisal(personas)
    for group, n in (("member", 6), ("masses", 2)):
        for _, code in services.slips_issue(by=own, appraisal=appraisal, group=group, count=n):
            cast(appraisal, code, 1 if group == "member" else 4, 2)
    appraisal = services.appraisal_close(by=own, appraisal=appraisal)
    member_view = selectors.results(appraisal=appraisal, user=personas.user("member_self"))
    assert member_view["show_counts"] and member_view["shown_groups"] == []
    assert all(row.groups == [] for row in member_view["rows"])
    assert member_view["rows"][0].counts == [6, 0, 0, 2, 0]
    # nor does the running secretary: two 群众 rows would be those two persons' ballots
    secretary_view = selectors.results(appraisal=appraisal, user=own)
    assert secretary_view["shown_groups"] == []
    assert all(row.groups == [] for row in secretary_view["rows"])
    assert secretary_view["hidden_groups"] == ["党员", "群众（代表）"]
    assert selectors.group_ballots(appraisal.tally) == {"member": 6, "masses": 2}


def test_a_closed_session_refuses_every_earlier_step(personas, own):
    appraisal = open_appraisal(personas)
    [(_, code)] = services.slips_issue(by=own, appraisal=appraisal, group="member", count=1)
    cast(appraisal, code, 1, 1)
    appraisal = services.appraisal_close(by=own, appraisal=appraisal)
    subject = appraisal.subjects.first()
    steps = [
        lambda: services.appraisal_update(by=own, appraisal=appraisal, **plan_fields()),
        lambda: services.appraisal_advance(by=own, appraisal=appraisal),
        lambda: services.statement_save(by=own, subject=subject, text="补充述职"),
        lambda: services.slips_issue(by=own, appraisal=appraisal, group="member", count=1),
        lambda: services.slips_void(by=own, appraisal=appraisal, first=1, last=1),
        lambda: services.paper_enter(
            by=own, appraisal=appraisal, group="member", figures=figures([[0] * 5] * 2)
        ),
        lambda: services.paper_discard(by=own, appraisal=appraisal, group="member"),
        lambda: services.appraisal_close(by=own, appraisal=appraisal),
    ]
    for step in steps:
        refused(step, match="评议结束")
    services.results_decide(
        by=own,
        appraisal=appraisal,
        decisions={s.pk: ("pass", "认定") for s in appraisal.subjects.all()},
    )
    services.appraisal_publish(by=own, appraisal=appraisal, low_turnout_confirmed=True)
    refused(services.appraisal_publish, by=own, appraisal=appraisal, match="公开结果")
    refused(services.results_decide, by=own, appraisal=appraisal, decisions={}, match="公开结果")
    assert list(appraisal.events.values_list("action", flat=True)) == [
        "create", "statements", "voting", "slips", "close", "decide", "publish",
    ]  # fmt: skip


def test_well_regarded_organisations_are_suggested_for_commendation(personas):
    parent = personas.user("parent_committee_secretary")
    appraisal = open_appraisal(
        personas, org="T1", kind="org", by=parent, expected_member=1, expected_masses=0,
        expected_leader=5,
    )  # fmt: skip
    for _, code in services.slips_issue(by=parent, appraisal=appraisal, group="leader", count=5):
        cast(appraisal, code, 1, 3)  # B1 satisfies everyone, B2 nobody
    appraisal = services.appraisal_close(by=parent, appraisal=appraisal)
    found = selectors.commendation_candidates(root=personas.orgs["K1"], year=2026)
    assert found.orgs == []  # not yet published
    services.appraisal_publish(by=parent, appraisal=appraisal)
    found = selectors.commendation_candidates(root=personas.orgs["K1"], year=2026)
    assert [row.subject.subject_org for row in found.orgs] == [personas.orgs["B1"]]
    assert found.orgs[0].satisfaction == 1.0
    assert percent_text(found.orgs[0].satisfaction) == "100.0%"
    assert selectors.commendation_candidates(root=personas.orgs["K2"], year=2026).orgs == []


def test_a_subject_left_out_by_the_plan(personas, own):
    appraisal = create(personas, own)
    m1 = appraisal.subjects.get(member=personas.members["m1"])
    refused(services.subject_exclude, by=own, subject=m1, reason=" ", match="原因")
    refused(
        services.subject_exclude,
        by=personas.user("parent_committee_secretary"),
        subject=m1,
        reason="长期患病",
    )
    appraisal = services.subject_exclude(by=own, subject=m1, reason="长期患病住院")
    assert [s.name for s in appraisal.subjects.all()] == ["李二"]
    assert [s.position for s in appraisal.subjects.all()] == [1]
    services.appraisal_update(by=own, appraisal=appraisal, today=TODAY, **plan_fields())
    assert appraisal.subjects.count() == 1  # a new roll keeps the exclusion
    last = appraisal.subjects.get()
    refused(services.subject_exclude, by=own, subject=last, reason="外出务工", match="没有需要评议")
    refused(services.subject_restore, by=own, appraisal=appraisal, key="m0", match="不在")
    appraisal = services.subject_restore(by=own, appraisal=appraisal, key=f"m{m1.member_id}")
    assert appraisal.subjects.count() == 2 and appraisal.excluded == {}
    appraisal = services.subject_exclude(
        by=own, subject=appraisal.subjects.get(member=personas.members["m1"]), reason="长期患病"
    )
    services.appraisal_advance(by=own, appraisal=appraisal)
    refused(services.subject_restore, by=own, appraisal=appraisal, key=f"m{m1.member_id}")
    appraisal = services.appraisal_advance(by=own, appraisal=appraisal)
    [(_, code)] = services.slips_issue(by=own, appraisal=appraisal, group="member", count=1)
    services.ballot_cast(appraisal_id=appraisal.pk, code=code, marks={1: 1})
    appraisal = services.appraisal_close(by=own, appraisal=appraisal)
    services.results_decide(
        by=own, appraisal=appraisal, decisions={appraisal.subjects.get().pk: ("pass", "认定")}
    )
    services.appraisal_publish(by=own, appraisal=appraisal, low_turnout_confirmed=True)
    [entry] = selectors.published_entries(member=personas.members["m1"])
    assert entry.grade_label == "暂缓评议" and entry.excluded == "长期患病"
    assert [e["action"] for e in appraisal.events.values("action")].count("exclude") == 2


# ---------------------------------------------------------------- issue 9


def test_a_login_whose_password_someone_else_set_cannot_be_a_teller(personas, own):
    """The secretary opens a login for a member and knows its password: entering the second
    count as that member would make one person both tellers."""
    from orgs.accounts import password_set_by

    appraisal = open_appraisal(personas)
    member = personas.user("member_self")
    good = figures([[4, 2, 1, 0, 0], [3, 3, 0, 0, 1]])
    services.paper_enter(by=own, appraisal=appraisal, group="member", figures=good)
    password_set_by(user=member, by=own)
    member = type(member).objects.get(pk=member.pk)
    assert "密码由他人设置" in services.teller_refusal(member, appraisal)
    refused(
        services.paper_enter,
        by=member,
        appraisal=appraisal,
        group="member",
        figures=good,
        match="密码由他人设置",
    )
    assert not PaperCount.objects.exists()
    # the same person entering twice stays one entry, never a confirmation
    again = services.paper_enter(by=own, appraisal=appraisal, group="member", figures=good)
    assert again.state == "waiting" and not PaperCount.objects.exists()
    # a password of the owner's own does not make them independent of the one who set the old one
    password_set_by(user=member, by=member)
    member = type(member).objects.get(pk=member.pk)
    assert services.teller_refusal(member, appraisal) == ""
    refused(
        services.paper_enter,
        by=member,
        appraisal=appraisal,
        group="member",
        figures=good,
        match="曾为您的账号设置密码",
    )
    assert not PaperCount.objects.exists()


def _login_for(personas, member_key, username):
    """A login the member opened and keeps: nobody else ever set its password."""
    from orgs import services as org_services

    user = make_user(username, Role.MEMBER, personas.orgs["B1"])
    org_services.member_update(by=None, member=personas.members[member_key], user=user)
    return type(user).objects.get(pk=user.pk)


def test_a_login_the_secretary_opened_never_counts_with_the_secretary(personas, own):
    """The attack: the secretary opens a member's login, changes its password to one he picks
    (as the member), and enters the second count as that member."""
    from orgs import services as org_services
    from orgs.accounts import password_ever_set_by, password_set_by

    appraisal = open_appraisal(personas)
    opened, _ = org_services.role_assign(
        by=own, org=personas.orgs["B1"], role=Role.MEMBER, member=personas.members["m1"]
    )
    password_set_by(user=opened, by=opened)
    opened = type(opened).objects.get(pk=opened.pk)
    assert password_ever_set_by(user=opened, by=own)
    assert not password_ever_set_by(user=own, by=opened)
    assert services.teller_refusal(opened, appraisal) == ""  # its password is now "its own"
    good = figures([[4, 2, 1, 0, 0], [3, 3, 0, 0, 1]])
    services.paper_enter(by=own, appraisal=appraisal, group="member", figures=good)
    refused(
        services.paper_enter,
        by=opened,
        appraisal=appraisal,
        group="member",
        figures=good,
        match="曾为您的账号设置密码",
    )
    assert "曾为您的账号设置密码" in services.co_teller_refusal(opened, appraisal, "member")
    # the other way round: the member first, then the secretary
    services.paper_enter(by=opened, appraisal=appraisal, group="masses", figures=good)
    refused(
        services.paper_enter,
        by=own,
        appraisal=appraisal,
        group="masses",
        figures=good,
        match="您曾为另一位计票人",
    )
    assert not PaperCount.objects.exists()
    assert set(appraisal.paper_entries.values_list("teller", "group")) == {
        (own.pk, "member"),
        (opened.pk, "masses"),
    }


def test_a_login_opened_from_a_login_the_secretary_took_over_never_counts_with_him(personas, own):
    """The chain: the secretary opens 李一's login and changes its password as 李一, makes 李一
    deputy, opens 李三's login from it and takes that over too; 李三 and the secretary are not two
    tellers, whichever enters first, and the refusal names the chain."""
    from orgs import services as org_services
    from tests.personas import make_member

    appraisal = open_appraisal(personas)
    b1 = personas.orgs["B1"]
    li1, initial = org_services.role_assign(
        by=own, org=b1, role=Role.MEMBER, member=personas.members["m1"]
    )
    org_services.password_change(user=li1, password="Li1-taken-over-2026", by=li1)
    org_services.role_assign(by=own, org=b1, role=Role.DEPUTY, member=personas.members["m1"])
    li1 = type(li1).objects.get(pk=li1.pk)
    li3, initial = org_services.role_assign(
        by=li1, org=b1, role=Role.MEMBER, member=make_member(b1, "李三")
    )
    org_services.password_change(user=li3, password="Li3-taken-over-2026", by=li3)
    li3 = type(li3).objects.get(pk=li3.pk)
    assert services.teller_refusal(li3, appraisal) == ""  # its password is now "its own"
    chain = "“own”为“李一”设置过密码，“李一”为“李三”设置过密码"
    good = figures([[4, 2, 1, 0, 0], [3, 3, 0, 0, 1]])
    services.paper_enter(by=own, appraisal=appraisal, group="member", figures=good)
    refused(
        services.paper_enter,
        by=li3,
        appraisal=appraisal,
        group="member",
        figures=good,
        match=chain + "（登录账号可能由为其设置密码的人使用），另一位计票人“own”可能掌握您的账号",
    )
    services.paper_enter(by=li3, appraisal=appraisal, group="masses", figures=good)
    refused(
        services.paper_enter,
        by=own,
        appraisal=appraisal,
        group="masses",
        figures=good,
        match=chain + "（登录账号可能由为其设置密码的人使用），您可能掌握另一位计票人“李三”的账号",
    )
    assert not PaperCount.objects.exists()
    # the deputy set 李三's password directly: the one-step refusal
    assert "您曾为另一位计票人“李三”设置密码" in services.tellers_dependence(li1, li3)
    # someone outside the chain still counts with 李三
    second = personas.user("member_self")
    assert services.tellers_dependence(second, li3) == ""
    assert (
        services.paper_enter(by=second, appraisal=appraisal, group="masses", figures=good).state
        == "confirmed"
    )


def test_two_independent_members_confirm_a_count(personas, own):
    appraisal = open_appraisal(personas)
    first = personas.user("member_self")
    second = _login_for(personas, "m1", "m1_login")
    good = figures([[4, 2, 1, 0, 0], [3, 3, 0, 0, 1]])
    assert (
        services.paper_enter(by=first, appraisal=appraisal, group="member", figures=good).state
        == "waiting"
    )
    assert services.co_teller_refusal(second, appraisal, "member") == ""
    outcome = services.paper_enter(by=second, appraisal=appraisal, group="member", figures=good)
    assert outcome.state == "confirmed"
    assert PaperCount.objects.get(appraisal=appraisal, group="member").tellers


def test_two_logins_of_one_person_are_not_two_tellers(personas, own):
    """One person entered twice in the roll (same name, birth and joining dates), a login each:
    a record kept from before the roster refused such twins (member_create refuses one now)."""
    import datetime

    from orgs.models import Member, Membership

    appraisal = open_appraisal(personas)
    first = _login_for(personas, "m1", "m1_login")
    m1 = personas.members["m1"]
    twin = Member.objects.create(  # the same identity as m1, under the committee
        org=personas.orgs["T1"], name=m1.name, gender=m1.gender, birth_date=m1.birth_date,
        joined_on=m1.joined_on, education=m1.education,
    )  # fmt: skip
    Membership.objects.create(member=twin, org=twin.org, start=datetime.date(2020, 1, 1))
    personas.members["twin"] = twin
    second = _login_for(personas, "twin", "twin_login")
    good = figures([[4, 2, 1, 0, 0], [3, 3, 0, 0, 1]])
    services.paper_enter(by=first, appraisal=appraisal, group="member", figures=good)
    refused(
        services.paper_enter,
        by=second,
        appraisal=appraisal,
        group="member",
        figures=good,
        match="同一名党员",
    )
    assert not PaperCount.objects.exists()


def test_adopting_every_suggestion_then_changing_the_exceptions(personas, own):
    appraisal = open_appraisal(personas, expected_masses=0)
    for _, code in services.slips_issue(by=own, appraisal=appraisal, group="member", count=5):
        cast(appraisal, code, 1, 2)
    refused(services.results_adopt_suggested, by=own, appraisal=appraisal, match="组织评议")
    appraisal = services.appraisal_close(by=own, appraisal=appraisal)
    first, second = appraisal.subjects.order_by("position")
    refused(
        services.results_adopt_suggested,
        by=personas.user("parent_committee_secretary"),
        appraisal=appraisal,
    )
    refused(services.results_adopt_suggested, by=personas.user("member_self"), appraisal=appraisal)
    assert services.results_adopt_suggested(by=own, appraisal=appraisal) == 2
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.final_grade, second.final_grade) == ("excellent", "pass")
    assert first.decided_by == own and first.override_reason == ""
    # an exception still needs its reason
    refused(
        services.results_decide,
        by=own,
        appraisal=appraisal,
        decisions={first.pk: ("pass", "")},
        match="请填写理由",
    )
    services.results_decide(by=own, appraisal=appraisal, decisions={first.pk: ("pass", "受过批评")})
    # adopting again leaves the decided ones as they are
    assert services.results_adopt_suggested(by=own, appraisal=appraisal) == 0
    first.refresh_from_db()
    assert (first.final_grade, first.override_reason) == ("pass", "受过批评")
    assert "adopt" in appraisal.events.values_list("action", flat=True)
    services.appraisal_publish(by=own, appraisal=appraisal)
    refused(services.results_adopt_suggested, by=own, appraisal=appraisal, match="公开结果")


def test_adopting_leaves_a_member_without_suggestion_undecided(personas, own):
    appraisal = open_appraisal(personas, expected_masses=0)
    for _, code in services.slips_issue(by=own, appraisal=appraisal, group="member", count=5):
        cast(appraisal, code, 1, None)  # nobody graded the second member
    appraisal = services.appraisal_close(by=own, appraisal=appraisal)
    assert services.results_adopt_suggested(by=own, appraisal=appraisal) == 1
    second = appraisal.subjects.get(position=2)
    assert second.suggested_grade == "" and second.final_grade == ""
    refused(services.appraisal_publish, by=own, appraisal=appraisal, match="1 名党员")


def _voted(personas, own, *, ballots, year=2026, **plan):
    appraisal = open_appraisal(personas, year=year, **plan)
    for _, code in services.slips_issue(by=own, appraisal=appraisal, group="member", count=ballots):
        cast(appraisal, code, 1, 1)
    appraisal = services.appraisal_close(by=own, appraisal=appraisal)
    services.results_adopt_suggested(by=own, appraisal=appraisal)
    return appraisal


def test_turnout_below_the_share_asks_to_confirm_and_suggests_nobody(personas, own):
    # 6 of 10 expected (6 members, 4 masses): 60% < 67%; every member is graded 好 (优秀)
    appraisal = _voted(personas, own, ballots=6)
    assert appraisal.turnout_percent == 60 and appraisal.expected_total == 10
    error = refused(services.appraisal_publish, by=own, appraisal=appraisal, match="参加率 60%")
    assert error.code == "low_turnout"
    assert Appraisal.objects.get(pk=appraisal.pk).state == AppraisalState.CLOSED
    view = selectors.results(appraisal=appraisal, user=own)
    assert view["low_turnout"] and view["commended"] == []
    appraisal = services.appraisal_publish(by=own, appraisal=appraisal, low_turnout_confirmed=True)
    assert appraisal.low_turnout
    assert "低于 67%" in appraisal.events.get(action="publish").comment
    found = selectors.commendation_candidates(root=personas.orgs["K1"], year=2026)
    assert found.members.count() == 0 and list(found.members) == []
    # the statistics count the 优秀 grades, but not as suggestions
    kept = kept_figures.own_figures("appraisal", Period.whole_year(2026), [appraisal.org_id])
    assert kept[appraisal.org_id]["members_excellent"] > 0
    assert kept[appraisal.org_id]["members_commended"] == 0
    # a rule set later does not change what was frozen at publication
    office = personas.user("office_inside")
    services.rule_set(
        by=office, org=personas.orgs["K1"], year=2026,
        **{name: getattr(rules.DEFAULT, name) for name in rules.FIELDS} | {"turnout_min": 50},
    )  # fmt: skip
    assert (
        selectors.commendation_candidates(root=personas.orgs["K1"], year=2026).members.count() == 0
    )


def test_turnout_at_two_thirds_publishes_without_asking(personas, own):
    # 2 of 3 is two thirds: 67% when rounded, as shown
    appraisal = _voted(personas, own, ballots=4, expected_member=6, expected_masses=0)
    assert appraisal.turnout_percent == 67
    appraisal = services.appraisal_publish(by=own, appraisal=appraisal)
    assert not appraisal.low_turnout
    found = selectors.commendation_candidates(root=personas.orgs["K1"], year=2026)
    assert [s.name for s in found.members] == ["李一", "李二"]
    # the 民主评议 statistics count the members listed
    kept = kept_figures.subtree_total("appraisal", personas.orgs["K1"], Period.whole_year(2026))
    assert kept["members_commended"] == 2


def test_the_turnout_share_is_set_with_the_grade_rule(personas, own):
    office = personas.user("office_inside")
    values = {name: getattr(rules.DEFAULT, name) for name in rules.FIELDS}
    assert values["turnout_min"] == 67
    refused(
        services.rule_set,
        by=office, org=personas.orgs["K1"], year=2026, **values | {"turnout_min": 101},
    )  # fmt: skip
    services.rule_set(by=office, org=personas.orgs["K1"], year=2026, **values | {"turnout_min": 50})
    assert rules.thresholds_for(org=personas.orgs["B1"], year=2026).turnout_min == 50
    appraisal = _voted(personas, own, ballots=6)  # 60%: enough under this county's rule
    appraisal = services.appraisal_publish(by=own, appraisal=appraisal)
    assert not appraisal.low_turnout


def test_the_migration_marks_sessions_published_below_two_thirds(personas, own):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("reviews.migrations.0005_appraisal_turnout")
    low = _voted(personas, own, ballots=6)
    services.appraisal_publish(by=own, appraisal=low, low_turnout_confirmed=True)
    full = _voted(personas, own, ballots=6, year=2025, expected_masses=0)
    services.appraisal_publish(by=own, appraisal=full)
    Appraisal.objects.update(low_turnout=False)  # as the rows were before the migration
    migration.mark_published(apps, None)
    assert set(Appraisal.objects.filter(low_turnout=True).values_list("pk", flat=True)) == {low.pk}


def test_a_session_of_few_ballots_gives_no_counts_in_the_record(personas, own):
    appraisal = _voted(personas, own, ballots=4, expected_member=4, expected_masses=0)
    services.appraisal_publish(by=own, appraisal=appraisal)
    [entry] = selectors.published_entries(member=personas.members["m1"])
    assert entry.few_ballots and entry.counts is None and entry.satisfaction is None
    assert entry.grade_label == "优秀"  # the committee's grade is not a count
