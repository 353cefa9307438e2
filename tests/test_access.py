import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from orgs import access, services
from orgs.access import Action
from orgs.models import OrgKind, Role
from tests.personas import make_member, make_org, make_user


def test_branch_secretary_sees_only_their_branch(personas):
    own = personas.user("own_branch_secretary")
    assert set(access.orgs_visible_to(own)) == {personas.orgs["B1"]}
    assert set(access.members_visible_to(own)) == {personas.members["m1"], personas.members["m1b"]}


def test_committee_secretary_reads_whole_subtree_and_supervises_children(personas):
    parent = personas.user("parent_committee_secretary")
    o = personas.orgs
    assert set(access.orgs_visible_to(parent)) == {o["T1"], o["B1"], o["B2"]}
    assert access.can(parent, Action.SUPERVISE, o["B1"])
    assert not access.can(parent, Action.SUPERVISE, o["T1"])
    assert not access.can(parent, Action.EDIT, o["B1"])
    assert access.can(parent, Action.EDIT, o["T1"])


def test_county_secretary_manages_a_branch_two_levels_down_but_does_not_supervise_it(personas):
    county = personas.user("county_secretary")
    o = personas.orgs
    assert access.can(county, Action.MANAGE, o["B1"])
    assert not access.can(county, Action.SUPERVISE, o["B1"])
    assert access.can(county, Action.SUPERVISE, o["T1"])  # his direct child
    assert access.can(county, Action.VIEW, o["B1"]) and not access.can(county, Action.EDIT, o["B1"])
    assert set(access.orgs_visible_to(county)) == {o["K1"], o["T1"], o["B1"], o["B2"]}


def test_deputy_acts_for_the_branch_like_its_secretary(personas):
    deputy = personas.user("own_branch_deputy")
    b1 = personas.orgs["B1"]
    for action in (Action.VIEW, Action.EDIT, Action.MANAGE, Action.EXPORT):
        assert access.can(deputy, action, b1), action
    assert not access.can(deputy, Action.SUPERVISE, b1)
    assert not access.can(deputy, Action.CONFIGURE, b1)
    assert set(access.orgs_visible_to(deputy)) == {b1}


def test_contact_leader_sees_the_branch_page_and_no_member(personas):
    contact = personas.user("contact_leader")
    b1 = personas.orgs["B1"]
    assert access.can(contact, Action.VIEW, b1)
    for action in (Action.EDIT, Action.SUPERVISE, Action.MANAGE, Action.EXPORT, Action.CONFIGURE):
        assert not access.can(contact, action, b1), action
    assert set(access.orgs_visible_to(contact)) == {b1}
    assert not access.members_visible_to(contact).exists()
    with pytest.raises(Http404):
        access.get_member_for_user(contact, personas.members["m1"].pk)


def test_office_reads_and_exports_but_does_not_edit(personas):
    office = personas.user("office_inside")
    b1 = personas.orgs["B1"]
    assert access.can(office, Action.VIEW, b1)
    assert access.can(office, Action.EXPORT, b1)
    assert access.can(office, Action.CONFIGURE, b1)
    assert not access.can(office, Action.EDIT, b1)
    assert not access.can(office, Action.MANAGE, b1)
    assert not access.can(office, Action.SUPERVISE, b1)
    assert personas.members["m3"] not in access.members_visible_to(office)


def test_member_role_sees_the_branch_and_only_their_own_record(personas):
    me = personas.user("member_self")
    assert access.can(me, Action.VIEW, personas.orgs["B1"])
    assert not access.can(me, Action.EXPORT, personas.orgs["B1"])
    assert list(access.members_visible_to(me)) == [personas.members["m1b"]]


def test_outside_is_404_and_inside_without_right_is_403(personas):
    own = personas.user("own_branch_secretary")
    with pytest.raises(Http404):
        access.get_org_for_user(own, personas.orgs["B2"].pk)
    with pytest.raises(Http404):
        access.get_member_for_user(own, personas.members["m2"].pk, Action.EDIT)
    with pytest.raises(PermissionDenied):
        access.get_org_for_user(own, personas.orgs["B1"].pk, Action.SUPERVISE)
    assert access.get_org_for_user(own, personas.orgs["B1"].pk, Action.EDIT) == personas.orgs["B1"]


def test_grant_reaches_organisations_created_later(personas):
    parent = personas.user("parent_committee_secretary")
    new_branch = make_org("B9", OrgKind.BRANCH, personas.orgs["T1"])
    assert access.can(parent, Action.SUPERVISE, new_branch)
    assert new_branch in access.orgs_visible_to(parent)


def test_inactive_organisation_grants_nothing(personas):
    own = personas.user("own_branch_secretary")
    services.organization_update(by=None, org=personas.orgs["B1"], is_active=False)
    access.forget_grants(own)
    assert not access.orgs_visible_to(own).exists()


@pytest.mark.django_db
def test_access_check_costs_bounded_queries_at_any_depth():
    """Reading the grants is one query and fetching the object one more, whatever the depth."""
    parent = make_org("R", OrgKind.PROVINCE)
    chain = [parent]
    for i, kind in enumerate(
        [
            OrgKind.CITY,
            OrgKind.COUNTY,
            OrgKind.COMMITTEE,
            OrgKind.COMMITTEE,
            OrgKind.COMMITTEE,
            OrgKind.GENERAL_BRANCH,
            OrgKind.BRANCH,
        ]
    ):
        chain.append(make_org(f"D{i}", kind, chain[-1]))
    leaf = chain[-1]
    member = make_member(leaf, "深层党员")
    user = make_user("top", Role.OFFICE, chain[0])
    user.__dict__.pop("_org_grants", None)
    with CaptureQueriesContext(connection) as ctx:
        access.get_org_for_user(user, leaf.pk)
    assert len(ctx) == 2  # grants, organisation
    with CaptureQueriesContext(connection) as ctx:
        access.get_member_for_user(user, member.pk)
        for org in chain:
            assert access.can(user, Action.VIEW, org)
    assert len(ctx) == 1  # the member (grants are cached on the user)
