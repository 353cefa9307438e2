"""Who may be an organisation's secretary has one answer (orgs.selectors.secretary_candidates):
a member on its own roll or on a direct child's. The edit form, the service and the roster import
each accept and refuse the same members."""

import copy

import pytest
from django.core.exceptions import ValidationError

from orgs import roster, selectors, services
from orgs.forms import OrganizationEditForm
from orgs.models import Member, Organization, OrgKind, Sector
from tests.test_roster import workbook

CASES = [
    ("B1", "m1", True),  # on the branch's own roll
    ("T1", "m1", True),  # on a direct child's roll (a town committee's secretary in a branch)
    ("K1", "m1", False),  # two levels below the county
    ("B1", "m2", False),  # on a sibling branch's roll
    ("T1", "m3", False),  # in another county
]


def _form_accepts(org: Organization, member: Member) -> bool:
    data = {
        "name": org.name,
        "code": org.code,
        "kind": org.kind,
        "sector": org.sector,
        "is_active": "on",
        "secretary": member.pk,
    }
    form = OrganizationEditForm(data, instance=copy.copy(org))
    form.is_valid()
    assert set(form.errors) <= {"secretary"}, form.errors
    return "secretary" not in form.errors


def _service_accepts(org: Organization, member: Member) -> bool:
    try:
        services.organization_update(by=None, org=org, secretary=member)
    except ValidationError as refusal:
        assert set(refusal.message_dict) == {"secretary"}
        return False
    return Organization.objects.get(pk=org.pk).secretary_id == member.pk


def _import_accepts(org: Organization, member: Member) -> bool:
    parent_code = org.parent.code if org.parent_id else ""
    row = [
        org.code,
        parent_code,
        org.name,
        OrgKind(org.kind).label,
        Sector(org.sector).label,
        member.name,
    ]
    try:
        roster.import_roster(workbook(orgs=[row]), by=None, root=None)
    except roster.RosterImportError as refusal:
        assert [error.column for error in refusal.errors] == ["书记姓名"]
        return False
    return Organization.objects.get(pk=org.pk).secretary_id == member.pk


@pytest.mark.parametrize("org_code,member_key,accepted", CASES)
def test_the_form_the_service_and_the_import_agree_on_who_may_be_secretary(
    personas, org_code, member_key, accepted
):
    org, member = personas.orgs[org_code], personas.members[member_key]
    assert selectors.secretary_candidates(org=org).filter(pk=member.pk).exists() is accepted
    assert _form_accepts(org, member) is accepted
    assert _import_accepts(org, member) is accepted
    Organization.objects.filter(pk=org.pk).update(secretary=None)
    org.refresh_from_db()
    assert _service_accepts(org, member) is accepted


def test_the_candidates_are_the_members_the_rule_allows(personas):
    """secretary_candidates (the database's answer) and secretary_posts (the same rule for a tree
    not yet written) name the same members for every organisation."""
    members = Member.objects.select_related("org")
    for org in Organization.objects.all():
        by_rule = {
            m.pk
            for m in members
            if org.pk in selectors.secretary_posts(member_org=m.org_id, parent=m.org.parent_id)
        }
        assert set(selectors.secretary_candidates(org=org).values_list("pk", flat=True)) == (
            by_rule
        ), org.code


def test_a_transfer_ends_the_posts_the_member_no_longer_qualifies_for(personas):
    import datetime

    o, m1 = personas.orgs, personas.members["m1"]
    today = datetime.date.today()
    services.organization_update(by=None, org=o["T1"], secretary=m1)
    services.organization_update(by=None, org=o["B1"], secretary=m1)
    services.member_transfer(
        by=None, member=m1, to_org=o["B2"], on=today - datetime.timedelta(days=2)
    )
    assert Organization.objects.get(pk=o["B1"].pk).secretary_id is None
    assert Organization.objects.get(pk=o["T1"].pk).secretary_id == m1.pk  # still under T1
    m1.refresh_from_db()
    services.member_transfer(
        by=None, member=m1, to_org=o["B3"], on=today - datetime.timedelta(days=1)
    )
    assert Organization.objects.get(pk=o["T1"].pk).secretary_id is None
