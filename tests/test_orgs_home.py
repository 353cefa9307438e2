"""The home page and the organisation page: what they show and what they cost in queries."""

from __future__ import annotations

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orgs.models import Member
from pledges import services as pledge_services
from pledges.models import Pledge, PledgeStatus
from tests.personas import build_personas, make_member
from tests.pledge_world import YEAR, build_pledge_world, member_pledge_fields


@pytest.fixture
def world(db):
    """The personas with the pledge objects about B1 (the pages' to-dos and links have rows to
    count; the queries they ask do not depend on other apps' rows)."""
    return build_pledge_world(build_personas())


def _member_count_shown(page: str) -> int:
    return int(re.search(r"<dt>党员人数</dt><dd>(\d+)（含下级组织）", page).group(1))


# ---- the organisation page


def test_org_page_query_count_is_bounded_for_a_committee_with_children_and_members(
    client, world, django_assert_max_num_queries
):
    t1 = world.orgs["T1"]
    for i in range(30):  # a committee that keeps members of its own besides its branches
        make_member(t1, f"机关党员{i:02d}")
    client.force_login(world.user("parent_committee_secretary"))
    # session, user, organisation, grants, children with their subtree member counts (the
    # subtree count is their sum plus the organisation's own members), own members (count and
    # page), appraisal record (subjects, sessions that left it out), figures, breadcrumbs,
    # history, whether it or a child reports its statistics upward (the 统计报送 link); the other
    # link providers read the children already loaded
    with django_assert_max_num_queries(13):
        response = client.get(reverse("orgs:detail", args=[t1.pk]))
    assert response.status_code == 200


def test_org_page_query_count_is_bounded_for_a_county_office(
    client, world, django_assert_max_num_queries
):
    client.force_login(world.user("office_inside"))
    # as above, without own members (their count is zero, so no page of rows)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("orgs:detail", args=[world.orgs["K1"].pk]))
    assert response.status_code == 200


def test_org_page_member_count_covers_the_whole_subtree(client, world):
    t1 = world.orgs["T1"]
    make_member(t1, "机关党员")
    expected = Member.objects.filter(t1.subtree_q("org__")).count()
    assert expected == 5  # one of T1's own, m1 and m1b (B1), m2 (B2), and the world's newcomer
    client.force_login(world.user("parent_committee_secretary"))
    page = client.get(reverse("orgs:detail", args=[t1.pk])).content.decode()
    assert _member_count_shown(page) == expected
    assert "组织B1" in page and "组织B2" in page


def test_org_page_member_count_for_a_reader_without_the_children(client, world):
    b1 = world.orgs["B1"]
    client.force_login(world.user("member_self"))  # sees the branch, not its whole roster
    page = client.get(reverse("orgs:detail", args=[b1.pk])).content.decode()
    assert _member_count_shown(page) == Member.objects.filter(org=b1).count()


# ---- the home page


def _returned_pledge(*, member, by, vetter) -> Pledge:
    fields = member_pledge_fields(kind="immediate", immediate_reason="temporary")  # any day
    pledge = pledge_services.pledge_create(by=by, year=YEAR, owner_member=member, **fields)
    pledge_services.pledge_submit(by=by, pledge=pledge)
    return pledge_services.pledge_return(by=vetter, pledge=pledge, comment="目标不具体")


def test_home_counts_returned_pledges_owned_or_made_by_the_user(client, world):
    """Returned pledges the user owns or entered and may see, each counted once (also when
    both): what the list behind the badge shows. A plain member sees only their own pledges, so
    one they entered for another member is neither listed nor counted; another member's pledge
    entered by someone else is not the user's."""
    user = world.user("member_self")  # the login of m1b
    own_secretary = world.user("own_branch_secretary")
    own = _returned_pledge(member=world.members["m1b"], by=user, vetter=own_secretary)
    made = _returned_pledge(member=world.members["m1"], by=own_secretary, vetter=own_secretary)
    Pledge.objects.filter(pk=made.pk).update(created_by=user)  # as if m1b had entered it for m1
    made_and_own = _returned_pledge(member=world.members["m1b"], by=user, vetter=own_secretary)
    sibling = world.user("sibling_branch_secretary")
    _returned_pledge(member=world.members["m2"], by=sibling, vetter=sibling)  # not the user's
    assert own.status == made.status == made_and_own.status == PledgeStatus.RETURNED
    client.force_login(user)
    page = client.get(reverse("home")).content.decode()
    assert re.search(r"退回修改的承诺</a> <span class=\"badge\">2</span>", page)


@pytest.mark.parametrize("day", ["01-20", "04-10", "07-05", "10-10", "12-01"])
def test_home_query_count_is_bounded(
    client, world, django_assert_max_num_queries, monkeypatch, day
):
    import datetime

    from django.utils import timezone

    today = datetime.date.fromisoformat(f"{timezone.localdate().year}-{day}")
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: today)
    user = world.user("own_branch_secretary")
    _returned_pledge(member=world.members["m1"], by=user, vetter=user)
    client.force_login(user)
    client.get(reverse("home"))  # the first read of a year writes its default calendar
    # session, user (with the unread notices), grants, own member record, organisations held;
    # to-dos: the children to vet for and the pledges to vet, returned pledges (own or made),
    # overdue pledges, open rectifications, late review items, running appraisals (12); the
    # deadlines: the calendar rows, the pledge window of each year whose dates can fall due near
    # today (two or three years: 3-4), and the obligation rules of the kinds due within 30 days
    # either way or with a reminder step due (at most 8 on these days, ledger deadlines among
    # them); the 写实簿 to-do: the led branches' members and one grid assembly of the page the
    # secretary signs on (memberships, pledges and their reports, signed reviews, exemptions,
    # appraisal entries (2), ledgers, signatures, notes, the pledge window: about 12); the led
    # branch's statistics card: the reviews and pledges tables (3 each), the earlier quarters' and
    # the two appraisal years' totals (1 each), the names behind its two gaps (1 each); the
    # stats_report rule near a report date (its submissions, 1) and the dashboards' own period
    with django_assert_max_num_queries(49):
        response = client.get(reverse("home"))
    assert response.status_code == 200


def test_home_returned_count_reads_no_join_across_an_or(client, world):
    """The count of returned pledges is two index lookups (by maker, by owner's login), not an OR
    across the join to members, which scans the whole pledge table at province scale."""
    client.force_login(world.user("own_branch_secretary"))
    with CaptureQueriesContext(connection) as ctx:
        client.get(reverse("home"))
    returned = [q["sql"] for q in ctx.captured_queries if "'returned'" in q["sql"]]
    assert len(returned) == 1
    assert ' OR "pledges_pledge"."created_by_id"' not in returned[0]
    assert "UNION" in returned[0]


def _badge(page: str, text: str) -> str | None:
    found = re.search(rf"{text}</a> <span class=\"badge\">([0-9+]+)</span>", page)
    return found.group(1) if found else None


def test_home_returned_count_equals_the_list_it_opens(client, world):
    """The badge counts exactly the pledges its link lists, also for a pledge the user entered in a
    branch they no longer lead (they can open neither it nor its list row)."""
    from orgs import services as org_services
    from orgs.models import Role
    from pledges import selectors

    user = world.user("own_branch_secretary")
    for member in ("m1", "m1b"):
        _returned_pledge(member=world.members[member], by=user, vetter=user)
    sibling = world.user("sibling_branch_secretary")
    elsewhere = _returned_pledge(member=world.members["m2"], by=sibling, vetter=sibling)
    Pledge.objects.filter(pk=elsewhere.pk).update(created_by=user)  # entered while leading B2
    client.force_login(user)
    listed = list(selectors.pledges_of(user=user, status=PledgeStatus.RETURNED))
    assert len(listed) == 2 and elsewhere not in listed
    page = client.get(reverse("home")).content.decode()
    assert _badge(page, "退回修改的承诺") == "2"
    listing = client.get(reverse("pledges:mine") + "?status=returned").content.decode()
    assert all(reverse("pledges:detail", args=[p.pk]) in listing for p in listed)
    assert reverse("pledges:detail", args=[elsewhere.pk]) not in listing
    org_services.role_revoke(by=None, user=user, org=world.orgs["B1"], role=Role.SECRETARY)
    page = client.get(reverse("home")).content.decode()
    assert _badge(page, "退回修改的承诺") is None
    assert not selectors.pledges_of(user=user, status=PledgeStatus.RETURNED).exists()


def test_home_badges_stop_counting_at_the_cap(client, world, monkeypatch):
    """A badge says "N+" once its count passes the cap: the overdue count at province scale
    stops early instead of counting a million rows; below the cap it is exact."""
    from pledges import selectors

    user = world.user("own_branch_secretary")
    client.force_login(user)
    today = datetime.date.today()
    late_one = selectors.overdue(user=user, within=None, today=today).first()
    for _ in range(3):  # more of the same overdue pledge
        late_one.pk = None
        late_one.save()
    late = selectors.overdue(user=user, within=None, today=today).count()
    assert late >= 4
    page = client.get(reverse("home")).content.decode()
    assert _badge(page, "超期未完成的承诺") == str(late)
    monkeypatch.setattr(selectors, "TODO_COUNT_CAP", late - 1)
    page = client.get(reverse("home")).content.decode()
    assert _badge(page, "超期未完成的承诺") == f"{late - 1}+"


def test_branch_page_with_a_published_appraisal_of_it_stays_within_the_bound(
    client, django_assert_max_num_queries, db
):
    """The branch page links its latest appraisal's satisfaction rate: reading that costs the
    subject and exclusion look-ups only, not a check of the appraised ranges."""
    from reviews.appraisal import services as appraisal_services
    from tests.appraisal_world import cast, open_appraisal

    world = build_pledge_world(build_personas())
    parent = world.user("parent_committee_secretary")
    appraisal = open_appraisal(world, org="T1", kind="org", by=parent)
    for _, code in appraisal_services.slips_issue(
        by=parent, appraisal=appraisal, group="member", count=5
    ):
        cast(appraisal, code, 1, 2)
    appraisal = appraisal_services.appraisal_close(by=parent, appraisal=appraisal)
    appraisal_services.appraisal_publish(by=parent, appraisal=appraisal, low_turnout_confirmed=True)
    client.force_login(world.user("own_branch_secretary"))
    # session, user, organisation, grants, member count, the appraisal entries (subjects,
    # sessions that left it out), breadcrumbs, figures, members page, history, the 统计报送
    # link's question (B1 has no children; a branch with party groups reads them too: 13)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("orgs:detail", args=[world.orgs["B1"].pk]))
    assert "民主评议满意率" in response.content.decode()
