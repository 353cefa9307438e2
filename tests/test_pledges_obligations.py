"""The pledges' deadlines and obligation rules: each gap counts exactly the list its page shows,
disappears when the work is done through the services, keeps to the organisations asked for,
costs a fixed number of queries whatever the size of the tree, and reaches the reminders sweep."""

import datetime
from collections import Counter

import pytest
from django.urls import reverse
from django.utils import timezone

from orgs import services as org_services
from orgs.deadlines import calendar_for, deadline_kind, ensure_year
from orgs.models import EmailState, OrgKind, Reminder, Role
from orgs.periods import HALF, QUARTER, YEAR, Period
from orgs.reminders import send_due, sweep
from pledges import letters, obligations, selectors, services
from pledges.models import (
    Fulfilment,
    Pledge,
    PledgeKind,
    PledgeStatus,
    Progress,
    SecretaryPledge,
    SecretaryPledgeStatus,
)
from tests.personas import make_member, make_org, make_user
from tests.pledge_world import YEAR as Y
from tests.pledge_world import member_pledge_fields, org_pledge_fields

IN_WINDOW = datetime.date(Y, 2, 1)
THE_YEAR = Period.whole_year(Y)
Q1, Q2, Q3 = (Period.quarter(Y, n) for n in (1, 2, 3))
H1, H2 = Period.half(Y, 1), Period.half(Y, 2)
KEYS = (
    "pledge_window",
    "member_fulfilment",
    "org_fulfilment",
    "secretary_letter",
    "secretary_report",
)


@pytest.fixture
def own(world):
    return world.user("own_branch_secretary")


@pytest.fixture
def parent(world):
    return world.user("parent_committee_secretary")


@pytest.fixture
def province_office(world):
    """A reader of the whole province, to read the pages' lists everywhere."""
    return make_user("office_province", Role.OFFICE, world.orgs["P"])


def gaps(key, period, org_ids=None):
    return list(deadline_kind(key).gaps(period, org_ids))


def counts(found) -> dict[int, int]:
    out = Counter()
    for gap in found:
        out[gap.org_id] += gap.count
    return dict(out)


def pledged(by, member, *, approve=True, vetter=None, **extra):
    pledge = services.pledge_create(
        by=by, year=Y, owner_member=member, **member_pledge_fields(**extra)
    )
    services.pledge_submit(by=by, pledge=pledge, today=IN_WINDOW)
    if approve:
        services.pledge_approve(by=vetter or by, pledge=pledge)
    pledge.refresh_from_db()
    return pledge


def report(pledge, by, period: Period, status=Progress.IN_PROGRESS):
    return services.fulfilment_record(
        by=by, pledge=pledge, year=Y, period=period.number, text="按计划推进", status=status,
        today=period.end,
    )  # fmt: skip


# ---------------------------------------------------------------- the kinds and their dates


def test_the_kinds_fall_on_the_circulars_dates(world):
    expected = {
        ("pledge_window", THE_YEAR): datetime.date(Y, 3, 31),
        ("member_fulfilment", Q2): datetime.date(Y, 6, 30),
        ("org_fulfilment", H1): datetime.date(Y, 6, 30),
        ("org_fulfilment", H2): datetime.date(Y, 12, 31),
        ("secretary_letter", THE_YEAR): datetime.date(Y, 1, 31),
        ("secretary_report", Q1): datetime.date(Y, 3, 31),
    }
    for (key, period), due in expected.items():
        kind = deadline_kind(key)
        assert kind.period_kind == period.kind and kind.default_due(period) == due, key
        assert kind.source and kind.gaps is not None, key
    assert deadline_kind("member_fulfilment").period_kind == QUARTER
    assert deadline_kind("org_fulfilment").period_kind == HALF
    assert deadline_kind("pledge_window").period_kind == YEAR
    assert deadline_kind("secretary_letter").roles == (Role.SECRETARY,)
    assert deadline_kind("secretary_report").roles == (Role.SECRETARY,)
    assert Role.DEPUTY in deadline_kind("pledge_window").roles
    ensure_year(Y)
    due = {(r.kind.key, r.period): r.due_on for r in calendar_for(org=world.orgs["B1"], year=Y)}
    for (key, period), date in expected.items():
        assert due[(key, period)] == date, key


# ---------------------------------------------------------------- 年度公开承诺


def test_members_without_a_pledge_are_the_pages_list(world, own, province_office):
    member_gaps = list(obligations.members_without_pledge_gaps(THE_YEAR))
    page = selectors.members_without_pledge(user=province_office, within=world.orgs["P"], year=Y)
    assert counts(member_gaps) == dict(Counter(m.org_id for m in page))
    b1 = world.orgs["B1"]
    # m1 has a published pledge; m1b and the secretary have none
    assert counts(member_gaps)[b1.pk] == 2
    gap = next(g for g in member_gaps if g.org_id == b1.pk)
    assert gap.text == "2 名党员尚无经审定的公开承诺"
    assert gap.url == reverse("pledges:year", args=[b1.pk, Y])
    for code in ("B1", "B2", "B3"):
        branch = world.orgs[code]
        listed = selectors.members_without_pledge(user=province_office, within=branch, year=Y)
        assert counts(member_gaps).get(branch.pk, 0) == listed.count() > 0, code


def test_a_submitted_pledge_leaves_the_member_owing_and_an_approved_one_does_not(world, own):
    m1b, b1 = world.members["m1b"], world.orgs["B1"]
    waiting = pledged(own, m1b, approve=False)
    assert counts(obligations.members_without_pledge_gaps(THE_YEAR))[b1.pk] == 2
    services.pledge_approve(by=own, pledge=waiting)
    assert counts(obligations.members_without_pledge_gaps(THE_YEAR))[b1.pk] == 1
    # the secretary's own pledge is vetted by the deputy
    pledged(own, world.extra["secretary"], vetter=world.user("own_branch_deputy"))
    assert b1.pk not in counts(obligations.members_without_pledge_gaps(THE_YEAR))


def test_a_member_counts_where_the_roll_keeps_them_and_a_stopped_branch_owes_nothing(world, parent):
    b1, b2, b3 = world.orgs["B1"], world.orgs["B2"], world.orgs["B3"]
    before = counts(obligations.members_without_pledge_gaps(THE_YEAR))
    org_services.member_transfer(
        by=parent, member=world.members["m2"], to_org=b1, on=timezone.localdate()
    )
    after = counts(obligations.members_without_pledge_gaps(THE_YEAR))
    assert b2.pk not in after and after[b1.pk] == before[b1.pk] + 1
    assert b3.pk in after and b3.pk in counts(obligations.orgs_without_pledge_gaps(THE_YEAR))
    org_services.organization_update(by=None, org=b3, is_active=False)
    assert b3.pk not in counts(obligations.members_without_pledge_gaps(THE_YEAR))
    assert b3.pk not in counts(obligations.orgs_without_pledge_gaps(THE_YEAR))


def test_organisations_without_their_own_pledge_are_the_pages_list(world, parent, province_office):
    found = list(obligations.orgs_without_pledge_gaps(THE_YEAR))
    page = selectors.orgs_without_pledge(user=province_office, within=world.orgs["P"], year=Y)
    assert counts(found) == {org.pk: 1 for org in page}
    assert {world.orgs[c].pk for c in ("T1", "B1", "B2", "T2", "B3")} == set(counts(found))
    b1 = world.orgs["B1"]
    assert next(g for g in found if g.org_id == b1.pk).text == "本组织尚无经审定的公开承诺"
    services.pledge_approve(by=parent, pledge=world.extra["po"])  # B1's own, submitted
    assert b1.pk not in counts(obligations.orgs_without_pledge_gaps(THE_YEAR))


def test_pledges_waiting_for_their_vetter_are_the_vet_queue(world, own, parent):
    t1, b1 = world.orgs["T1"], world.orgs["B1"]
    waiting = pledged(own, world.members["m1b"], approve=False)
    found = counts(obligations.vetting_gaps(THE_YEAR))
    # B1's own pledge waits for T1 (its parent); m1b's for B1 (the branch that keeps it)
    assert found == {t1.pk: 1, b1.pk: 1}
    assert found[t1.pk] == selectors.vet_queue(user=parent).count()
    assert found[b1.pk] == selectors.vet_queue(user=own).count()
    gap = next(obligations.vetting_gaps(THE_YEAR, {t1.pk}))
    assert (gap.text, gap.url) == ("1 项公开承诺待审核", reverse("pledges:vet_queue"))
    services.pledge_approve(by=own, pledge=waiting)
    services.pledge_return(by=parent, pledge=world.extra["po"], comment="目标不够具体")
    assert counts(obligations.vetting_gaps(THE_YEAR)) == {}


def test_a_vetter_owing_both_kinds_of_pledge_has_one_gap(world, own, parent):
    t1 = world.orgs["T1"]
    second = make_member(t1, "赵党委委员")
    t1_secretary = make_member(t1, "钱党委书记", birth_date=datetime.date(1966, 1, 1))
    org_services.member_update(by=None, member=t1_secretary, user=parent)
    org_services.organization_update(by=None, org=t1, secretary=t1_secretary)
    services.pledge_submit(
        by=parent,
        pledge=services.pledge_create(
            by=parent, year=Y, owner_member=second, **member_pledge_fields()
        ),
        today=IN_WINDOW,
    )
    found = [g for g in obligations.vetting_gaps(THE_YEAR) if g.org_id == t1.pk]
    assert [(g.count, g.text) for g in found] == [(2, "2 项公开承诺待审核")]
    assert selectors.vet_queue(user=parent).count() == 2


def _leaders_pledge(user, member):
    """`member`'s pledge, entered and submitted by `user`, their own login."""
    pledge = services.pledge_create(by=user, year=Y, owner_member=member, **member_pledge_fields())
    services.pledge_submit(by=user, pledge=pledge, today=IN_WINDOW)
    return pledge


def _with_login(org, name, user):
    member = make_member(org, name)
    return org_services.member_update(by=None, member=member, user=user)


def _vetting_at(org, org_ids=None) -> dict[str, tuple[int, str]]:
    """`org`'s vetting gaps by the anchor of their URL ("": the queue's own gap)."""
    queue = reverse("pledges:vet_queue")
    found = {}
    for gap in obligations.vetting_gaps(THE_YEAR, org_ids):
        if gap.org_id == org.pk:
            page, _, anchor = gap.url.partition("#")
            assert page == queue
            found[anchor] = (gap.count, gap.text)
    return found


def _queue(user, org) -> int:
    return selectors.vet_queue(user=user).filter(org=org).count()


def test_a_secretarys_own_pledge_is_a_gap_of_its_own_for_the_deputy(world, own):
    b1, deputy = world.orgs["B1"], world.user("own_branch_deputy")
    mine = _leaders_pledge(own, world.extra["secretary"])
    pledged(own, world.members["m1b"], approve=False)
    found = _vetting_at(b1)
    assert (
        found
        == _vetting_at(b1, {b1.pk})
        == {
            "": (1, "1 项公开承诺待审核"),
            "own-secretary": (1, "1 项书记本人的公开承诺待副书记审核"),
        }
    )
    # the secretary vets what the queue's gap counts; the deputy that and the secretary's own
    assert _queue(own, b1) == found[""][0] == 1
    assert _queue(deputy, b1) == found[""][0] + found["own-secretary"][0] == 2
    assert mine in selectors.vet_queue(user=deputy)
    assert mine not in selectors.vet_queue(user=own)
    services.pledge_approve(by=deputy, pledge=mine)
    assert _vetting_at(b1) == {"": (1, "1 项公开承诺待审核")}


def test_a_deputys_own_pledge_waits_for_the_secretary(world, own):
    b1, deputy = world.orgs["B1"], world.user("own_branch_deputy")
    theirs = _leaders_pledge(deputy, _with_login(b1, "李副书记", deputy))
    assert _vetting_at(b1) == {"own-deputy": (1, "1 项副书记本人的公开承诺待书记或其他副书记审核")}
    assert (_queue(own, b1), _queue(deputy, b1)) == (1, 0)
    # a leader whose login is switched off is no leader to the sweep: the pledge is then
    # everyone's to vet, in the queue's own gap
    deputy.is_active = False
    deputy.save(update_fields=["is_active"])
    assert _vetting_at(b1) == {"": (1, "1 项公开承诺待审核")}
    assert _queue(own, b1) == 1
    services.pledge_approve(by=own, pledge=theirs)
    assert _vetting_at(b1) == {}


def test_each_leader_vets_the_others_own_pledges(world, own):
    b1, deputy = world.orgs["B1"], world.user("own_branch_deputy")
    _leaders_pledge(own, world.extra["secretary"])
    _leaders_pledge(deputy, _with_login(b1, "李副书记", deputy))
    pledged(own, world.members["m1b"], approve=False)
    found = _vetting_at(b1)
    assert found == {
        "": (1, "1 项公开承诺待审核"),
        "own-secretary": (1, "1 项书记本人的公开承诺待副书记审核"),
        "own-deputy": (1, "1 项副书记本人的公开承诺待书记或其他副书记审核"),
    }
    assert _queue(own, b1) == found[""][0] + found["own-deputy"][0] == 2
    assert _queue(deputy, b1) == found[""][0] + found["own-secretary"][0] == 2


def test_a_sole_leaders_own_pledge_says_nobody_can_vet_it(world):
    b2, sibling = world.orgs["B2"], world.user("sibling_branch_secretary")
    parent = world.user("parent_committee_secretary")
    _leaders_pledge(sibling, _with_login(b2, "孙书记", sibling))
    assert _vetting_at(b2) == {
        "own-secretary": (1, "1 项书记本人的公开承诺无人可以审核（本组织没有副书记）")
    }
    assert _queue(sibling, b2) == _queue(parent, b2) == 0
    deputy = make_user("deputy_b2", Role.DEPUTY, b2)
    assert _vetting_at(b2) == {"own-secretary": (1, "1 项书记本人的公开承诺待副书记审核")}
    assert _queue(deputy, b2) == 1


def test_the_leaders_own_pledges_reach_every_leader_and_each_survives_the_recheck(world, own):
    """Every leader of B1 is reminded of all its vetting gaps; the sender matches each item to
    its gap by organisation and page, so each of these keeps its own text and count."""
    b1, deputy = world.orgs["B1"], world.user("own_branch_deputy")
    _leaders_pledge(own, world.extra["secretary"])
    _leaders_pledge(deputy, _with_login(b1, "李副书记", deputy))
    pledged(own, world.members["m1b"], approve=False)
    expected = {
        ("1 项公开承诺待审核", 1),
        ("1 项书记本人的公开承诺待副书记审核", 1),
        ("1 项副书记本人的公开承诺待书记或其他副书记审核", 1),
    }
    due = deadline_kind("pledge_window").default_due(THE_YEAR)
    sweep(today=due - datetime.timedelta(days=1))
    vet = reverse("pledges:vet_queue")

    def vetting_items(user):
        (row,) = _reminders("pledge_window", THE_YEAR, user)
        row.refresh_from_db()
        return {
            (i["text"], i["count"])
            for i in row.items
            if i["org"] == b1.pk and i["url"].startswith(vet)
        }

    assert vetting_items(own) == vetting_items(deputy) == expected
    send_due(now=timezone.now())
    assert vetting_items(own) == vetting_items(deputy) == expected


def test_the_window_gaps_are_all_three_rules(world):
    whole = gaps("pledge_window", THE_YEAR)
    parts = [
        *obligations.members_without_pledge_gaps(THE_YEAR),
        *obligations.orgs_without_pledge_gaps(THE_YEAR),
        *obligations.vetting_gaps(THE_YEAR),
    ]
    assert sorted(whole, key=repr) == sorted(parts, key=repr)
    assert all(g.count > 0 for g in whole)


def test_the_window_date_follows_the_office_setting(world):
    office, k1, b1, b3 = (
        world.user("office_inside"), world.orgs["K1"], world.orgs["B1"], world.orgs["B3"],
    )  # fmt: skip
    kind = deadline_kind("pledge_window")
    assert kind.setting_dates(Y) == []
    services.window_set(
        by=office, org=k1, year=Y, start=datetime.date(Y, 1, 1), end=datetime.date(Y, 4, 15)
    )
    assert kind.setting_dates(Y) == [(k1, datetime.date(Y, 4, 15))]
    assert kind.setting_dates(Y + 1) == []
    assert kind.setting_url(k1, Y) == reverse("pledges:window", args=[k1.pk]) + f"?year={Y}"
    ensure_year(Y)
    at_b1 = next(r for r in calendar_for(org=b1, year=Y) if r.kind is kind)
    at_b3 = next(r for r in calendar_for(org=b3, year=Y) if r.kind is kind)
    assert (at_b1.due_on, at_b1.set_at, at_b1.from_setting) == (datetime.date(Y, 4, 15), k1, True)
    assert (at_b3.due_on, at_b3.from_setting) == (datetime.date(Y, 3, 31), False)
    services.window_set(
        by=office, org=k1, year=Y, start=datetime.date(Y, 1, 1), end=datetime.date(Y, 3, 20)
    )
    assert kind.setting_dates(Y) == [(k1, datetime.date(Y, 3, 20))]


def test_setting_dates_cost_one_query(world, django_assert_num_queries):
    office = world.user("office_inside")
    for code in ("K1", "T1", "B1"):
        services.window_set(
            by=office, org=world.orgs[code], year=Y,
            start=datetime.date(Y, 1, 1), end=datetime.date(Y, 4, 1),
        )  # fmt: skip
    with django_assert_num_queries(1):  # the settings with their organisations
        dates = deadline_kind("pledge_window").setting_dates(Y)
    assert sorted(org.code for org, _ in dates) == ["B1", "K1", "T1"]


# ---------------------------------------------------------------- 承诺兑现情况


def _owed_by_page(world, org, period: Period) -> int:
    """The pledges the fulfilment form is offered for with no report for `period`, read through
    the read API the ledgers use (one record per pledge with its periods)."""
    year = selectors.branch_year(org=org, year=Y, today=period.end)
    records = [
        record
        for row in year["rows"]
        for record in selectors.pledges_of_year(year=Y, member=row.member)
    ]
    if period.kind == HALF:
        records = selectors.pledges_of_year(year=Y, org=org)
    return sum(
        1
        for r in records
        if r.pledge.org_id == org.pk
        and r.pledge.is_active
        and r.pledge.progress not in (Progress.DONE, Progress.CANNOT)
        and r.periods[period.number - 1].fulfilment is None
    )


def test_member_fulfilment_gaps_count_the_unreported_pledges(world, own):
    b1 = world.orgs["B1"]
    m1b = world.members["m1b"]
    pledged(own, m1b)  # approved, not published: it takes reports too
    pledged(own, world.extra["secretary"], approve=False)  # submitted: no report yet
    for period in (Q1, Q2):
        found = counts(gaps("member_fulfilment", period))
        assert found.get(b1.pk, 0) == _owed_by_page(world, b1, period), period
    assert counts(gaps("member_fulfilment", Q1)) == {b1.pk: 1}  # pm reported Q1
    assert counts(gaps("member_fulfilment", Q2)) == {b1.pk: 2}
    gap = gaps("member_fulfilment", Q2)[0]
    assert gap.text == "2 项党员承诺未填报第二季度兑现情况"
    assert gap.url == reverse("pledges:year", args=[b1.pk, Y])


def test_reporting_the_quarter_or_finishing_the_pledge_removes_the_gap(world, own):
    b1, pm = world.orgs["B1"], world.extra["pm"]
    other = pledged(own, world.members["m1b"])
    report(pm, own, Q2)
    assert counts(gaps("member_fulfilment", Q2)) == {b1.pk: 1}
    report(other, own, Q2, status=Progress.DONE)
    assert gaps("member_fulfilment", Q2) == []
    # a pledge reported done owes no later quarter; the one still in progress does
    assert (
        counts(gaps("member_fulfilment", Q3)) == {b1.pk: 1} == {b1.pk: _owed_by_page(world, b1, Q3)}
    )


def test_a_pledge_that_cannot_be_done_or_is_evaluated_owes_no_more_reports(world, own):
    b1, pm = world.orgs["B1"], world.extra["pm"]
    other = pledged(own, world.members["m1b"])
    Q4 = Period.quarter(Y, 4)
    assert counts(gaps("member_fulfilment", Q4)) == {b1.pk: 2}
    services.fulfilment_record(
        by=own, pledge=other, year=Y, period=3, text="资金不到位", status=Progress.CANNOT,
        reason="项目取消", today=Q3.end,
    )  # fmt: skip
    assert (
        counts(gaps("member_fulfilment", Q4)) == {b1.pk: 1} == {b1.pk: _owed_by_page(world, b1, Q4)}
    )
    services.pledge_evaluate(
        by=own, pledge=pm, result="partly", remark="走访未达目标", today=datetime.date(Y, 12, 2)
    )
    assert gaps("member_fulfilment", Q4) == []


def test_org_fulfilment_gaps_count_the_organisations_unreported_pledges(world, own, parent):
    b1, po = world.orgs["B1"], world.extra["po"]
    assert gaps("org_fulfilment", H1) == []  # submitted, not yet approved
    services.pledge_approve(by=parent, pledge=po)
    assert counts(gaps("org_fulfilment", H1)) == {b1.pk: 1} == {b1.pk: _owed_by_page(world, b1, H1)}
    gap = gaps("org_fulfilment", H1)[0]
    assert gap.text == "1 项本组织承诺未填报上半年兑现情况"
    assert gaps("member_fulfilment", Q2) and all(
        g.text.endswith("第二季度兑现情况") for g in gaps("member_fulfilment", Q2)
    )
    report(po, own, H1)
    assert gaps("org_fulfilment", H1) == []
    assert counts(gaps("org_fulfilment", H2)) == {b1.pk: 1}


def test_a_stopped_organisation_owes_no_fulfilment(world, own):
    org_services.organization_update(by=None, org=world.orgs["B1"], is_active=False)
    assert gaps("member_fulfilment", Q2) == []


# ---------------------------------------------------------------- 书记公开承诺书


def _letters_owed(world) -> set[int]:
    """The organisations with a secretary whose letter page shows no letter signed and sent."""
    owed = set()
    for org in world.orgs.values():
        org.refresh_from_db()
        if org.secretary_id is None or not org.is_active:
            continue
        letter = selectors.letter_of(org=org, year=Y)
        if letter is None or letter.is_editable:
            owed.add(org.pk)
    return owed


def test_letter_gaps_follow_the_letters_state(world, own, parent):
    b1, b3 = world.orgs["B1"], world.orgs["B3"]
    found = gaps("secretary_letter", THE_YEAR)
    assert set(counts(found)) == _letters_owed(world) == {b1.pk}
    assert (found[0].count, found[0].text) == (1, "书记公开承诺书尚未签字提交")  # a draft
    assert found[0].url == reverse("pledges:secretary_pledge", args=[b1.pk, Y])
    org_services.organization_update(by=None, org=b3, secretary=world.members["m3"])
    texts = {g.org_id: g.text for g in gaps("secretary_letter", THE_YEAR)}
    assert texts[b3.pk] == "尚未填写书记公开承诺书"
    assert set(texts) == _letters_owed(world) == {b1.pk, b3.pk}
    sp = world.extra["sp"]
    letters.secretary_pledge_submit(by=own, sp=sp)
    assert set(counts(gaps("secretary_letter", THE_YEAR))) == _letters_owed(world) == {b3.pk}
    letters.secretary_pledge_review(by=parent, sp=sp, approve=False, opinion="请写明时限")
    texts = {g.org_id: g.text for g in gaps("secretary_letter", THE_YEAR)}
    assert texts[b1.pk] == "书记公开承诺书已退回修改，尚未重新提交"
    assert set(texts) == _letters_owed(world)
    letters.secretary_pledge_submit(by=own, sp=sp)
    letters.secretary_pledge_review(by=parent, sp=sp, approve=True, opinion="同意")
    assert set(counts(gaps("secretary_letter", THE_YEAR))) == _letters_owed(world) == {b3.pk}


def _approved_letter(world, own, parent) -> SecretaryPledge:
    sp = world.extra["sp"]
    letters.secretary_pledge_submit(by=own, sp=sp)
    return letters.secretary_pledge_review(by=parent, sp=sp, approve=True, opinion="同意")


def test_report_gaps_are_the_quarters_the_letter_page_shows_empty(world, own, parent):
    b1 = world.orgs["B1"]
    assert gaps("secretary_report", Q1) == []  # the letter is still a draft
    sp = _approved_letter(world, own, parent)
    found = gaps("secretary_report", Q1)
    assert [(g.org_id, g.count) for g in found] == [(b1.pk, 1)]
    assert found[0].text == "书记公开承诺第一季度落实情况尚未报送"
    assert found[0].url == reverse("pledges:secretary_report", args=[sp.pk])
    letters.secretary_report_save(
        by=own, sp=sp, quarter=1, text="走访12户", measures="每月走访", today=Q1.end
    )
    sp = SecretaryPledge.objects.prefetch_related("reports").get(pk=sp.pk)
    empty = [p for p, r in sp.quarter_reports() if r is None]
    assert empty == [Q2, Period.quarter(Y, 3), Period.quarter(Y, 4)]
    for quarter in Period.all_of(Y, QUARTER):
        assert bool(gaps("secretary_report", quarter)) == (quarter in empty), quarter


# ---------------------------------------------------------------- org_ids


@pytest.mark.parametrize(
    "key,period", [("pledge_window", THE_YEAR), ("member_fulfilment", Q2),
                   ("org_fulfilment", H1), ("secretary_letter", THE_YEAR),
                   ("secretary_report", Q2)],
)  # fmt: skip
def test_org_ids_keep_to_those_organisations(world, own, parent, key, period):
    o = world.orgs
    org_services.organization_update(by=None, org=o["B3"], secretary=world.members["m3"])
    services.pledge_approve(by=parent, pledge=world.extra["po"])
    _approved_letter(world, own, parent)
    unrelated = world.user("unrelated_committee_secretary")
    t2_pledge = services.pledge_create(
        by=unrelated, year=Y, owner_org=o["T2"], **org_pledge_fields()
    )
    services.pledge_submit(by=unrelated, pledge=t2_pledge, today=IN_WINDOW)  # K2 vets it
    pledged(own, world.members["m1b"], approve=False)
    everything = gaps(key, period)
    assert everything, key
    for codes in ({"B1"}, {"B3"}, {"T1", "B2"}, {"B1", "B3", "T2"}, {"K2", "B1"}, {"K2"}):
        ids = {o[c].pk for c in codes}
        assert sorted(gaps(key, period, ids), key=repr) == sorted(
            [g for g in everything if g.org_id in ids], key=repr
        ), (key, codes)
    assert gaps(key, period, set()) == []


def test_asking_for_no_organisation_costs_nothing(world, django_assert_num_queries):
    first = {YEAR: THE_YEAR, HALF: H1, QUARTER: Q1}
    with django_assert_num_queries(0):
        for key in KEYS:
            assert gaps(key, first[deadline_kind(key).period_kind], set()) == []


# ---------------------------------------------------------------- a fixed number of queries


def _grow(world, *, branches: int, members: int) -> None:
    """More of every kind of row under T2: branches with members and a deputy, pledges in every
    state, reports for some, letters in every state (bulk rows: the rules read them, not their
    history)."""
    t2 = world.orgs["T2"]
    statuses = list(PledgeStatus)
    rows, letter_rows = [], []
    for b in range(branches):
        branch = make_org(f"G{b}", OrgKind.BRANCH, t2)
        people = [make_member(branch, f"党员{b}-{i}") for i in range(members)]
        org_services.organization_update(by=None, org=branch, secretary=people[0])
        # a deputy with a login, whose pledge (submitted, below) waits for the other leaders
        deputy = make_user(f"deputy_g{b}", Role.DEPUTY, branch)
        org_services.member_update(by=None, member=people[1], user=deputy)
        letter_rows.append(
            SecretaryPledge(
                org=branch, member=people[0], year=Y, post="书记", term_start=IN_WINDOW,
                contact="1", content="承诺", status=list(SecretaryPledgeStatus)[b % 4],
            )
        )  # fmt: skip
        for i, person in enumerate(people):
            rows.append(
                Pledge(
                    owner_member=person, org=branch, year=Y, kind=PledgeKind.ANNUAL,
                    category="duty", content="承诺", target="目标", due_date=H2.end,
                    status=statuses[i % len(statuses)],
                )
            )  # fmt: skip
        rows.append(
            Pledge(
                owner_org=branch, org=branch, year=Y, kind=PledgeKind.ANNUAL,
                category="policy", content="承诺", target="目标", due_date=H2.end,
                status=statuses[b % len(statuses)],
            )
        )  # fmt: skip
    made = Pledge.objects.bulk_create(rows)
    SecretaryPledge.objects.bulk_create(letter_rows)
    Fulfilment.objects.bulk_create(
        Fulfilment(pledge=p, org_id=p.org_id, year=Y, period=2, text="兑现", status="in_progress")
        for p in made[::3]
    )


QUERIES = {
    # members without an approved pledge; organisations without one; pledges waiting for the
    # vetter: those of organisations (by parent), those of the vetting organisations' own
    # leaders, those of members (by branch). For given organisations, their children are read
    # first (the children's pledges are then found by the (year, org, status) index).
    "pledge_window": (THE_YEAR, 5, 6),
    "member_fulfilment": (Q2, 1, 1),  # the unreported pledges grouped by organisation
    "org_fulfilment": (H1, 1, 1),  # the same for the organisations' own pledges
    "secretary_letter": (THE_YEAR, 1, 1),  # the organisations with a secretary, with the letter
    "secretary_report": (Q2, 1, 1),  # the approved letters without the quarter's report
}


@pytest.mark.parametrize("key", KEYS)
def test_gaps_cost_the_same_queries_on_a_small_and_a_larger_tree(
    world, own, parent, key, django_assert_num_queries
):
    period, queries, restricted = QUERIES[key]
    services.pledge_approve(by=parent, pledge=world.extra["po"])
    _approved_letter(world, own, parent)
    some = {world.orgs["B1"].pk, world.orgs["T1"].pk}
    with django_assert_num_queries(queries):
        small = gaps(key, period, None)
    with django_assert_num_queries(restricted):
        gaps(key, period, some)
    _grow(world, branches=6, members=8)
    with django_assert_num_queries(queries):
        large = gaps(key, period, None)
    with django_assert_num_queries(restricted):
        gaps(key, period, some | {world.orgs["T2"].pk})
    assert sum(g.count for g in large) > sum(g.count for g in small), key
    assert len({g.org_id for g in large}) > len({g.org_id for g in small}), key


# ---------------------------------------------------------------- the reminders sweep


def _reminders(key, period, user):
    return list(Reminder.objects.filter(kind=key, period=period.slug, user=user))


def _orgs_in(reminders) -> set[int]:
    return {item["org"] for r in reminders for item in r.items}


def _setup_for(key, world, own, parent):
    if key == "org_fulfilment":
        services.pledge_approve(by=parent, pledge=world.extra["po"])
    if key == "secretary_report":
        _approved_letter(world, own, parent)


@pytest.mark.parametrize(
    "key,period,others_owe",
    [
        ("pledge_window", THE_YEAR, True),  # T2 and B3 owe their own pledges too
        ("member_fulfilment", Q2, False),
        ("org_fulfilment", H1, False),
        ("secretary_letter", THE_YEAR, False),
        ("secretary_report", Q2, False),
    ],
)
def test_the_day_before_the_date_the_branch_secretary_is_reminded(
    world, own, parent, key, period, others_owe
):
    _setup_for(key, world, own, parent)
    b1 = world.orgs["B1"]
    due = deadline_kind(key).default_due(period)
    sweep(today=due - datetime.timedelta(days=1))
    mine = _reminders(key, period, own)
    assert [(r.step, r.due_on) for r in mine] == [("-1", due)]
    items = [item for item in mine[0].items if item["org"] == b1.pk]
    assert items and {(i["text"], i["url"]) for i in items} == {
        (g.text, g.url) for g in gaps(key, period, {b1.pk})
    }
    unrelated = _reminders(key, period, world.user("unrelated_committee_secretary"))
    assert b1.pk not in _orgs_in(unrelated)
    assert bool(unrelated) is others_owe
    sibling = _reminders(key, period, world.user("sibling_branch_secretary"))
    assert b1.pk not in _orgs_in(sibling)
    deputy = _reminders(key, period, world.user("own_branch_deputy"))
    assert bool(deputy) is (Role.DEPUTY in deadline_kind(key).roles)
    # a second sweep the same day queues nothing more
    sweep(today=due - datetime.timedelta(days=1))
    assert len(_reminders(key, period, own)) == 1


def test_the_sweep_reminds_on_the_window_the_office_set(world, own):
    b1, k1 = world.orgs["B1"], world.orgs["K1"]
    services.window_set(
        by=world.user("office_inside"), org=k1, year=Y,
        start=datetime.date(Y, 1, 1), end=datetime.date(Y, 4, 15),
    )  # fmt: skip
    sweep(today=datetime.date(Y, 3, 30))  # the default date's eve: not K1's subtree
    assert _reminders("pledge_window", THE_YEAR, own) == []
    assert _reminders("pledge_window", THE_YEAR, world.user("unrelated_committee_secretary"))
    sweep(today=datetime.date(Y, 4, 14))
    mine = _reminders("pledge_window", THE_YEAR, own)
    assert [(r.step, r.due_on) for r in mine] == [("-1", datetime.date(Y, 4, 15))]
    assert b1.pk in _orgs_in(mine)


@pytest.mark.parametrize("done", [True, False])
def test_work_done_after_the_sweep_cancels_the_unsent_reminder(world, own, done):
    """The sender asks the rule again for the organisations of the queued items."""
    b1, pm = world.orgs["B1"], world.extra["pm"]
    sweep(today=Q2.end - datetime.timedelta(days=1))
    (row,) = _reminders("member_fulfilment", Q2, own)
    assert _orgs_in([row]) == {b1.pk}
    if done:
        report(pm, own, Q2)
    send_due(now=timezone.now())
    row.refresh_from_db()
    if done:
        assert (row.email_state, row.done_at is not None) == (EmailState.CANCELLED, True)
    else:  # still owed; "own" has no e-mail address, so it stays an in-app notice only
        assert (row.email_state, row.done_at) == (EmailState.SKIPPED, None)
