"""Who may see and do what in a democratic appraisal (reviews.appraisal.access), and the entry
the 写实簿 and the statistics read (reviews.appraisal.selectors.published_entries)."""

import datetime

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone

from orgs.access import Action
from reviews.appraisal import access, selectors, services
from reviews.appraisal.models import Appraisal
from tests.appraisal_world import cast, open_appraisal
from tests.personas import PERSONA_NAMES

pytestmark = pytest.mark.django_db


def _user(personas, name):
    return personas.user(name) or AnonymousUser()


@pytest.fixture
def ap_orgs(world):
    """T1's appraisal of its branches, published (B1 and B2 appraised)."""
    parent = world.user("parent_committee_secretary")
    appraisal = open_appraisal(world, org="T1", kind="org", by=parent)
    for _, code in services.slips_issue(by=parent, appraisal=appraisal, group="member", count=5):
        cast(appraisal, code, 1, 2)
    appraisal = services.appraisal_close(by=parent, appraisal=appraisal)
    return services.appraisal_publish(by=parent, appraisal=appraisal, low_turnout_confirmed=True)


def test_the_visible_sessions_are_those_each_may_open(world, ap_orgs):
    sessions = list(Appraisal.objects.select_related("org"))
    assert len(sessions) == 3  # B1's two, T1's of its branches
    seen_by = {}
    for name in PERSONA_NAMES:
        user = _user(world, name)
        listed = set(access.appraisals_visible_to(user))
        assert listed == {a for a in sessions if access.can_view_appraisal(user, a)}, name
        seen_by[name] = {a.org.code for a in listed}
    # the branch's sessions to its readers and members; T1's appraisal of its branches also to
    # whoever holds a role in a branch appraised — never across the tree
    assert seen_by["own_branch_secretary"] == {"B1", "T1"}
    assert seen_by["member_self"] == {"B1", "T1"}
    assert seen_by["sibling_branch_secretary"] == {"T1"}
    assert seen_by["parent_committee_secretary"] == {"B1", "T1"}
    assert seen_by["unrelated_committee_secretary"] == set()
    assert seen_by["office_outside"] == set()
    assert seen_by["anonymous"] == set()


def test_the_getters_answer_404_outside_the_scope_and_403_inside(world):
    appraisal = world.extra["ap_open"]
    own, parent = world.user("own_branch_secretary"), world.user("parent_committee_secretary")
    outsider = world.user("unrelated_committee_secretary")
    assert access.get_appraisal_for_user(own, appraisal.pk, Action.EDIT) == appraisal
    assert access.get_appraisal_for_user(parent, str(appraisal.pk)) == appraisal
    with pytest.raises(PermissionDenied, match="书记或副书记"):
        access.get_appraisal_for_user(parent, appraisal.pk, Action.EDIT)
    for pk in (appraisal.pk, "x1", 10**9):
        with pytest.raises(Http404):
            access.get_appraisal_for_user(outsider, pk)
    subject = world.extra["subject"]  # m1b's, whose own login is member_self
    assert access.get_subject_for_user(world.user("member_self"), subject.pk) == subject
    with pytest.raises(PermissionDenied):
        access.get_subject_for_user(world.user("member_self"), subject.pk, Action.EDIT)
    with pytest.raises(Http404):
        access.get_subject_for_user(outsider, subject.pk)


def test_results_are_the_runners_once_counted_and_everyones_once_published(world):
    own, member = world.user("own_branch_secretary"), world.user("member_self")
    voting, published = world.extra["ap_open"], world.extra["ap_done"]
    assert not access.can_view_results(own, voting)
    assert access.can_view_results(own, published) and access.can_view_results(member, published)
    closed = services.appraisal_close(by=own, appraisal=voting)
    assert access.can_view_results(own, closed) and not access.can_view_results(member, closed)


def test_the_voting_link_opens_only_a_session_voting_by_code(world):
    appraisal = world.extra["ap_open"]
    assert access.get_appraisal_for_voting(appraisal.public_id) == appraisal
    for public_id in (appraisal.public_id.upper(), "short", "../x"):
        with pytest.raises(Http404):
            access.get_appraisal_for_voting(public_id)
    Appraisal.objects.filter(pk=appraisal.pk).update(method="paper")
    with pytest.raises(Http404):
        access.get_appraisal_for_voting(appraisal.public_id)


def test_who_counts_and_who_writes_a_statement(world):
    appraisal, subject = world.extra["ap_open"], world.extra["subject"]
    own, member = world.user("own_branch_secretary"), world.user("member_self")
    parent = world.user("parent_committee_secretary")
    assert access.can_count_appraisal(own, appraisal) and access.can_count_appraisal(
        member, appraisal
    )
    assert not access.can_count_appraisal(parent, appraisal)
    assert access.can_write_statement(member, subject) and access.can_write_statement(own, subject)
    other = appraisal.subjects.get(member=world.members["m1"])
    assert not access.can_write_statement(member, other)
    assert not access.can_write_statement(parent, subject)


# ---------------------------------------------------------------- the published entry


def test_a_members_published_entry(world, django_assert_num_queries):
    done = world.extra["ap_done"]
    member = world.members["m1"]
    # 1 the member's subjects in published sessions, with the session and its organisation;
    # 2 the published sessions that left the member out (暂缓评议)
    with django_assert_num_queries(2):
        [entry] = selectors.published_entries(member=member)
    subject = done.subjects.get(member=member)
    assert entry.appraisal == done and entry.subject == subject and not entry.is_excluded
    assert (entry.year, entry.kind, entry.org, entry.member) == (2025, "member", done.org, member)
    assert entry.grade == subject.final_grade and entry.grade_label == "优秀"
    assert entry.counts == [5, 0, 0, 0] and entry.ballots == 5 and not entry.few_ballots
    assert entry.satisfaction == 1.0
    assert (entry.party_participants, entry.mass_participants) == (5, 0)
    assert entry.published_on == timezone.localdate(done.published_at)
    assert selectors.published_entries(member=member, year=2025) == [entry]
    assert selectors.published_entries(member=member, year=2026) == []  # still voting


def test_an_organisations_published_entry(world, ap_orgs):
    [entry] = selectors.published_entries(org=world.orgs["B1"])
    assert entry.appraisal == ap_orgs and entry.subject_org == world.orgs["B1"]
    assert entry.member is None and entry.grade == "" and entry.grade_label == ""
    assert entry.counts == [5, 0, 0, 0] and entry.satisfaction == 1.0
    assert selectors.published_entries(org=world.orgs["B3"]) == []
    with pytest.raises(ValueError):
        selectors.published_entries()


def test_an_entry_for_a_member_the_plan_left_out(personas):
    own = personas.user("own_branch_secretary")
    appraisal = services.appraisal_create(
        by=own,
        org=personas.orgs["B1"],
        kind="member",
        year=2026,
        today=datetime.date(2026, 11, 20),
        held_on=datetime.date(2026, 11, 20),
        place="村委会会议室",
        method="code",
        content="评议",
        expected_member=6,
    )
    left_out = appraisal.subjects.get(member=personas.members["m1"])
    services.subject_exclude(by=own, subject=left_out, reason="长期外出务工")
    services.appraisal_advance(by=own, appraisal=appraisal)
    appraisal = services.appraisal_advance(by=own, appraisal=appraisal, today=appraisal.held_on)
    for _, code in services.slips_issue(by=own, appraisal=appraisal, group="member", count=5):
        cast(appraisal, code, 1)
    appraisal = services.appraisal_close(by=own, appraisal=appraisal)
    services.results_adopt_suggested(by=own, appraisal=appraisal)
    services.appraisal_publish(by=own, appraisal=appraisal, low_turnout_confirmed=True)
    [entry] = selectors.published_entries(member=personas.members["m1"], year=2026)
    assert entry.is_excluded and entry.subject is None and entry.grade == ""
    assert entry.grade_label == "暂缓评议" and entry.excluded == "长期外出务工"
    assert entry.member == personas.members["m1"] and entry.appraisal == appraisal
