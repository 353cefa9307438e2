"""The read API the ledgers and statistics build on: pledges_of_year, open_rectifications and
pledge_counts_by_org; each figure agrees with the rows behind it, in a fixed number of queries."""

import datetime
from collections import Counter
from pathlib import Path

import pytest

from orgs.periods import HALF, QUARTER, Period
from orgs.rectifications import RectificationRow
from pledges import selectors, services
from pledges.models import Fulfilment, Pledge, PledgeStatus, Progress, Rectification
from tests.personas import make_member
from tests.pledge_world import YEAR, force, member_pledge_fields

IN_WINDOW = datetime.date(YEAR, 2, 1)
LATE_SUMMER = datetime.date(YEAR, 8, 1)


@pytest.fixture
def own(world):
    return world.user("own_branch_secretary")


def _published(world, by, member, **extra):
    pledge = services.pledge_create(
        by=by, year=YEAR, owner_member=member, **member_pledge_fields(**extra)
    )
    services.pledge_submit(by=by, pledge=pledge, today=IN_WINDOW)
    services.pledge_approve(by=by, pledge=pledge)
    return services.pledge_publish(by=by, pledge=pledge)


def _report(pledge, by, period, status=Progress.IN_PROGRESS):
    return services.fulfilment_record(
        by=by, pledge=pledge, year=YEAR, period=period, text=f"第{period}期", status=status,
        today=LATE_SUMMER,
    )  # fmt: skip


# ---------------------------------------------------------------- pledges_of_year


def test_a_members_year_lists_each_pledge_with_its_quarters(world, own, django_assert_num_queries):
    m1 = world.members["m1"]
    pm = world.extra["pm"]  # published, Q1 reported
    second = _published(world, own, m1, content="带头参加义务劳动")
    _report(second, own, 2)
    services.pledge_create(by=own, year=YEAR, owner_member=m1, **member_pledge_fields())  # draft
    # 2: the pledges (with their org and owners), their fulfilment reports
    with django_assert_num_queries(2):
        records = selectors.pledges_of_year(year=YEAR, member=m1)
        periods = [[(p.period, p.fulfilment) for p in r.periods] for r in records]
    assert [r.pledge for r in records] == [pm, second]
    assert [p for p, _ in periods[0]] == Period.all_of(YEAR, QUARTER)
    assert [f is not None for _, f in periods[0]] == [True, False, False, False]
    assert [f is not None for _, f in periods[1]] == [False, True, False, False]
    assert periods[1][1][1] == second.fulfilments.get()
    # the list and the rows behind it agree
    assert len(records) == Pledge.objects.pledged().filter(owner_member=m1, year=YEAR).count()
    reported = sum(len(r.reported) for r in records)
    assert reported == Fulfilment.objects.filter(pledge__owner_member=m1, year=YEAR).count() == 2
    everything = selectors.pledges_of_year(year=YEAR, member=m1, include_unvetted=True)
    assert len(everything) == Pledge.objects.filter(owner_member=m1, year=YEAR).count() == 3


def test_an_organisations_year_is_its_own_pledges_by_half_year(world):
    b1, po = world.orgs["B1"], world.extra["po"]  # B1's own pledge, submitted
    assert selectors.pledges_of_year(year=YEAR, org=b1) == []
    force(po, status=PledgeStatus.PUBLISHED)
    (record,) = selectors.pledges_of_year(year=YEAR, org=b1)
    assert record.pledge == po and world.extra["pm"] not in [record.pledge]  # not its members'
    assert [p.period for p in record.periods] == Period.all_of(YEAR, HALF)
    assert record.reported == []
    assert selectors.pledges_of_year(year=YEAR - 1, org=b1) == []


def test_pledges_of_year_needs_exactly_one_owner(world):
    with pytest.raises(TypeError):
        selectors.pledges_of_year(year=YEAR)
    with pytest.raises(TypeError):
        selectors.pledges_of_year(year=YEAR, member=world.members["m1"], org=world.orgs["B1"])


# ---------------------------------------------------------------- open_rectifications


def test_open_rectifications_of_a_subtree_and_of_a_member(world, own, django_assert_num_queries):
    item = world.extra["rectification"]  # over m1's overdue pledge, kept at B1
    # 1: the rectifications with their pledge, its owner and the org
    with django_assert_num_queries(1):
        rows = selectors.open_rectifications(org=world.orgs["T1"], year=YEAR)
    assert rows == selectors.open_rectifications(member=world.members["m1"], year=YEAR)
    (row,) = rows
    assert isinstance(row, RectificationRow)
    assert (row.source, row.pk, row.org, row.member, row.subject_name) == (
        "pledge", item.pk, world.orgs["B1"], world.members["m1"], "李一",
    )  # fmt: skip
    assert row.url == f"/pledges/rectifications/{item.pk}/" and not row.is_closed
    assert len(rows) == Rectification.objects.open().filter(pledge__year=YEAR).count()
    assert selectors.open_rectifications(org=world.orgs["T2"], year=YEAR) == []
    assert selectors.open_rectifications(member=world.members["m1b"], year=YEAR) == []
    assert selectors.open_rectifications(org=world.orgs["B1"], year=YEAR + 1) == []
    services.rectification_respond(by=own, rectification=item, response="已补走访")
    assert len(selectors.open_rectifications(org=world.orgs["B1"], year=YEAR)) == 1  # reported
    services.rectification_close(by=own, rectification=item)
    assert selectors.open_rectifications(org=world.orgs["B1"], year=YEAR) == []


# ---------------------------------------------------------------- pledge_counts_by_org


def test_counts_by_organisation_equal_the_rows_behind_them(world, own, django_assert_num_queries):
    b1, b2 = world.orgs["B1"], world.orgs["B2"]
    sibling = world.user("sibling_branch_secretary")
    late = _published(world, own, world.members["m1b"])  # due 30 June: overdue in August
    _report(late, own, 1)
    _report(late, own, 2)
    _published(world, sibling, world.members["m2"], due_date=datetime.date(YEAR, 12, 31))
    services.pledge_create(by=own, year=YEAR, owner_member=make_member(b1, "新人"),
                           **member_pledge_fields())  # fmt: skip
    today = LATE_SUMMER
    # 4: pledges by org, status and owner kind; fulfilment reports by org, period and owner
    # kind; overdue pledges by org; open rectifications by org
    with django_assert_num_queries(4):
        counts = selectors.pledge_counts_by_org(year=YEAR, within=world.orgs["K1"], today=today)
    assert set(counts) == {b1.pk, b2.pk}
    for org in (b1, b2):
        figures = counts[org.pk]
        pledges = Pledge.objects.filter(org=org, year=YEAR)
        assert figures.member_pledges.by_status == dict(
            Counter(pledges.filter(owner_member__isnull=False).values_list("status", flat=True))
        )
        assert figures.org_pledges.by_status == dict(
            Counter(pledges.filter(owner_org__isnull=False).values_list("status", flat=True))
        )
        assert figures.overdue == pledges.overdue(today).count()
        assert figures.open_rectifications == len(selectors.open_rectifications(org=org, year=YEAR))
        for period in Period.all_of(YEAR, QUARTER):
            reports = Fulfilment.objects.filter(
                org=org, year=YEAR, period=period.number, pledge__owner_member__isnull=False
            )
            assert figures.fulfilment_reported.get(period, 0) == reports.count()
    b1_figures = counts[b1.pk]
    assert b1_figures.member_pledges.pledged == b1_figures.member_pledges.published == 2
    assert b1_figures.member_pledges.editable == 1  # the newcomer's draft
    assert b1_figures.org_pledges.awaiting_vetting == 1  # B1's own pledge, submitted
    assert b1_figures.overdue == 2 and b1_figures.open_rectifications == 1
    assert b1_figures.fulfilment_reported == {
        Period.quarter(YEAR, 1): 2,
        Period.quarter(YEAR, 2): 1,
    }
    assert counts[b2.pk].overdue == 0 and counts[b2.pk].member_pledges.total == 1
    assert selectors.pledge_counts_by_org(year=YEAR, within=world.orgs["K2"], today=today) == {}


def test_organisation_reports_count_by_half_year(world, own):
    parent = world.user("parent_committee_secretary")
    po = services.pledge_approve(by=parent, pledge=world.extra["po"])
    services.fulfilment_record(
        by=own, pledge=po, year=YEAR, period=2, text="修通1公里", status=Progress.IN_PROGRESS,
        today=LATE_SUMMER,
    )  # fmt: skip
    counts = selectors.pledge_counts_by_org(year=YEAR, within=world.orgs["B1"], today=LATE_SUMMER)
    reported = counts[world.orgs["B1"].pk].fulfilment_reported
    assert reported[Period.half(YEAR, 2)] == 1 and Period.quarter(YEAR, 2) not in reported


# ---------------------------------------------------------------- the templates read booleans


def test_no_pledge_template_compares_status_strings():
    templates = Path(__file__).resolve().parent.parent / "pledges" / "templates"
    for path in templates.rglob("*.html"):
        text = path.read_text()
        for defect in ("status ==", "status !=", "needs ==", '"closed"', '"approved"'):
            assert defect not in text, f"{path.name}: {defect}"
