"""Granting roles (issue 9, items 3 and 15): nobody grants a role to themselves; office and contact
roles come from above; grants go to members in the granter's scope, chosen from a list; one login
per member, enforced by the database."""

import datetime
import threading

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from orgs import access, services
from orgs.access import Action, can_assign_role
from orgs.models import Member, Role
from orgs.services import role_assign, role_grant, role_grant_exists
from tests.personas import build_personas, make_member, make_user


def _fresh(user):
    return get_user_model().objects.get(pk=user.pk)


def _linked(member, user) -> Member:
    """`member`'s record linked to `user` (a leader is a member too)."""
    services.member_update(by=None, member=member, user=user)
    member.refresh_from_db()
    return member


@pytest.fixture
def people(personas):
    """The personas, with the branch and township secretaries' own member records."""
    personas.members["own"] = _linked(
        make_member(personas.orgs["B1"], "赵书记", birth_date=datetime.date(1972, 1, 1)),
        personas.user("own_branch_secretary"),
    )
    personas.members["parent"] = _linked(
        make_member(personas.orgs["T1"], "钱书记"), personas.user("parent_committee_secretary")
    )
    return personas


def _refused(message, **kwargs):
    with pytest.raises(ValidationError) as caught:
        role_assign(**kwargs)
    assert message in " ".join(caught.value.messages), caught.value.messages


# ---------------------------------------------------------------- nobody grants to themselves


@pytest.mark.parametrize("role", [Role.DEPUTY, Role.MEMBER])
def test_a_secretary_cannot_grant_a_role_at_their_branch_to_themselves(people, role):
    own = people.user("own_branch_secretary")
    b1 = people.orgs["B1"]
    assert can_assign_role(own, b1, role)  # the role itself is theirs to grant
    _refused("不能给自己授予角色", by=own, org=b1, role=role, member=people.members["own"])
    assert not role_grant_exists(user=own, org=b1, role=role)


@pytest.mark.parametrize("role", [Role.OFFICE, Role.CONTACT, Role.SECRETARY, Role.DEPUTY])
def test_the_parent_secretary_cannot_grant_a_role_below_to_themselves(people, role):
    parent = people.user("parent_committee_secretary")
    b1 = people.orgs["B1"]
    assert can_assign_role(parent, b1, role)
    _refused("不能给自己授予角色", by=parent, org=b1, role=role, member=people.members["parent"])
    assert not role_grant_exists(user=parent, org=b1, role=role)


def test_the_grant_primitive_refuses_a_person_granting_to_themselves(people):
    own = people.user("own_branch_secretary")
    with pytest.raises(ValidationError, match="不能给自己授予角色"):
        role_grant(by=own, user=own, org=people.orgs["B1"], role=Role.OFFICE)
    assert not role_grant_exists(user=own, org=people.orgs["B1"], role=Role.OFFICE)


# ---------------------------------------------------------------- office and contact from above


@pytest.mark.parametrize("role", [Role.OFFICE, Role.CONTACT])
def test_a_branch_secretary_cannot_grant_office_or_contact_at_their_branch(people, role):
    own = people.user("own_branch_secretary")
    b1, m1 = people.orgs["B1"], people.members["m1"]
    assert not can_assign_role(own, b1, role)
    _refused("由上级党组织的书记、副书记或上级工作人员授予", by=own, org=b1, role=role, member=m1)
    m1.refresh_from_db()
    assert m1.user is None  # no login opened either


def test_the_self_grant_attack_leaves_grade_rules_windows_and_reviews_where_they_were(
    people, client
):
    """The attack of issue 9: a branch secretary gives himself (or a friend) office and contact
    at his branch, to set his own grade rule, open the pledge window and review his branch."""
    from reviews.access import reviewer_org_for_org

    own = people.user("own_branch_secretary")
    b1 = people.orgs["B1"]
    client.force_login(own)
    url = reverse("orgs:roles", args=[b1.pk])
    for role in ("office", "contact"):
        for member in (people.members["own"], people.members["m1"]):
            response = client.post(url, {"role": role, "member": member.pk})
            assert response.status_code == 200 and response.context["form"].errors
    own = _fresh(own)
    assert [g.role for g in access.grants_for(own)] == [Role.SECRETARY]
    assert not access.can(own, Action.CONFIGURE, b1)
    assert reviewer_org_for_org(own, b1) is None
    assert client.get(reverse("pledges:window", args=[b1.pk])).status_code == 403
    assert client.get(reverse("appraisal:rule", args=[b1.pk])).status_code == 403
    assert Member.objects.get(pk=people.members["m1"].pk).user is None


def test_the_parent_secretary_grants_office_and_contact_below(people):
    parent = people.user("parent_committee_secretary")
    b1, m1, m2 = people.orgs["B1"], people.members["m1"], people.members["m2"]
    user, password = role_assign(by=parent, org=b1, role=Role.OFFICE, member=m1)
    assert password and role_grant_exists(user=user, org=b1, role=Role.OFFICE)
    assert access.can(_fresh(user), Action.CONFIGURE, b1)  # granted from above: as intended
    contact, _ = role_assign(by=parent, org=b1, role=Role.CONTACT, member=m2)  # sibling's member
    assert role_grant_exists(user=contact, org=b1, role=Role.CONTACT)


def test_an_office_covering_the_parent_grants_office_and_contact_only(people):
    office = people.user("office_inside")  # office at the county, above B1's township
    b1, m1 = people.orgs["B1"], people.members["m1"]
    assert [r for r in Role if can_assign_role(office, b1, r)] == [
        Role.OFFICE,
        Role.CONTACT,
    ]
    user, _ = role_assign(by=office, org=b1, role=Role.CONTACT, member=m1)
    assert role_grant_exists(user=user, org=b1, role=Role.CONTACT)
    _refused("书记由上级党组织任命", by=office, org=b1, role=Role.SECRETARY, member=m1)
    _refused("您不能在“组织B1”授予副书记角色", by=office, org=b1, role=Role.DEPUTY, member=m1)


def test_office_staff_at_the_organisation_itself_do_not_grant_office_there(people):
    parent = people.user("parent_committee_secretary")
    b1 = people.orgs["B1"]
    clerk, _ = role_assign(by=parent, org=b1, role=Role.OFFICE, member=people.members["m1"])
    clerk = _fresh(clerk)
    assert not can_assign_role(clerk, b1, Role.OFFICE)
    assert not can_assign_role(clerk, b1, Role.CONTACT)
    other = make_member(b1, "孙三", birth_date=datetime.date(1960, 1, 1))
    _refused("由上级党组织", by=clerk, org=b1, role=Role.OFFICE, member=other)


def test_the_secretary_is_appointed_by_the_parent(people):
    own, parent = people.user("own_branch_secretary"), people.user("parent_committee_secretary")
    b1, m1 = people.orgs["B1"], people.members["m1"]
    _refused("书记由上级党组织任命", by=own, org=b1, role=Role.SECRETARY, member=m1)
    user, _ = role_assign(by=parent, org=b1, role=Role.SECRETARY, member=m1)
    assert role_grant_exists(user=user, org=b1, role=Role.SECRETARY)


def test_deputies_and_members_are_granted_by_the_branch_leaders(people):
    own = people.user("own_branch_secretary")
    b1 = people.orgs["B1"]
    deputy, password = role_assign(by=own, org=b1, role=Role.DEPUTY, member=people.members["m1"])
    assert password and role_grant_exists(user=deputy, org=b1, role=Role.DEPUTY)
    third = make_member(b1, "周四", birth_date=datetime.date(1961, 1, 1))
    member, _ = role_assign(by=_fresh(deputy), org=b1, role=Role.MEMBER, member=third)
    assert role_grant_exists(user=member, org=b1, role=Role.MEMBER)


# ---------------------------------------------------------------- only to members in scope


def test_a_grant_goes_only_to_a_member_in_the_granters_scope(people):
    own = people.user("own_branch_secretary")
    b1, m2 = people.orgs["B1"], people.members["m2"]
    _refused("工作范围内的党员", by=own, org=b1, role=Role.DEPUTY, member=m2)
    m2.refresh_from_db()
    assert m2.user is None


def test_the_member_role_goes_only_to_a_member_on_the_roll(people):
    parent = people.user("parent_committee_secretary")
    _refused(
        "党员角色只授予本组织的党员",
        by=parent,
        org=people.orgs["B1"],
        role=Role.MEMBER,
        member=people.members["m2"],
    )


def test_a_person_grants_only_to_a_members_login(people):
    """The primitive holds the same rules: no account that is not a member's, nothing outside."""
    own = people.user("own_branch_secretary")
    b1 = people.orgs["B1"]
    stranger = make_user("stranger")
    with pytest.raises(ValidationError, match="党员本人的登录账号"):
        role_grant(by=own, user=stranger, org=b1, role=Role.DEPUTY)
    with pytest.raises(ValidationError, match="由上级党组织"):
        role_grant(by=own, user=stranger, org=b1, role=Role.OFFICE)
    assert not access.grants_for(_fresh(stranger))


def test_the_roles_page_offers_members_never_a_free_username(people, client):
    own = people.user("own_branch_secretary")
    client.force_login(own)
    url = reverse("orgs:roles", args=[people.orgs["B1"].pk])
    page = client.get(url).content.decode()
    assert "李一" in page and "王二" not in page  # B1's members; B2's are not in own's scope
    assert "王二" not in client.get(url, {"q": "王"}).content.decode()
    response = client.post(url, {"role": "deputy", "username": "sibling"})
    assert response.context["form"].errors["member"]
    assert not access.grants_for(_fresh(people.user("sibling_branch_secretary")))[1:]
    response = client.post(url, {"role": "deputy", "member": people.members["m2"].pk})
    assert response.context["form"].errors["member"]  # outside the scope: not a valid choice
    client.force_login(people.user("parent_committee_secretary"))
    assert "王二" in client.get(url, {"q": "王"}).content.decode()


def test_new_usernames_pass_djangos_username_validator(people):
    own = people.user("own_branch_secretary")
    b1, m1 = people.orgs["B1"], people.members["m1"]
    users = get_user_model().objects.count()
    # taken (also in other letter case or with a look-alike Cyrillic і), spaces, slashes, too
    # long or short, non-ASCII letters that could pass for others
    get_user_model().objects.create_user("zhen_shuji")
    for bad in ("bad name", "a/b", "x" * 151, "own", "OWN", "ZHEN_SHUJI", "zhen_shuj\u0456",
                "李一.li-1", "ab", "_li", "li.yi-1", "x" * 31):  # fmt: skip
        with pytest.raises(ValidationError) as caught:
            role_assign(by=own, org=b1, role=Role.MEMBER, member=m1, username=bad)
        assert "username" in caught.value.error_dict, bad
    assert get_user_model().objects.count() == users + 1
    m1.refresh_from_db()
    assert m1.user is None
    user, _ = role_assign(by=own, org=b1, role=Role.MEMBER, member=m1, username="LiYi1")
    assert user.username == "liyi1"


def _username_refused(message, people, username):
    own = people.user("own_branch_secretary")
    b1, m1 = people.orgs["B1"], people.members["m1"]
    with pytest.raises(ValidationError) as caught:
        role_assign(by=own, org=b1, role=Role.MEMBER, member=m1, username=username)
    assert message in " ".join(caught.value.error_dict["username"][0].messages), username


def test_new_usernames_that_look_like_existing_ones_are_refused(people):
    own = people.user("own_branch_secretary")
    b1, m1 = people.orgs["B1"], people.members["m1"]
    User = get_user_model()
    User.objects.create_user("zhen_shuji")  # older names may carry punctuation
    User.objects.create_user("zhibu_shuji")
    users = User.objects.count()
    for bad in ("zhenshuji", "ZhenShuji", "zhen5huji", "zhenshujl", "zhibushuj1", "zhlbushujl",
                "memberself", "0wn", "5ibling", "s1bling"):  # fmt: skip
        _username_refused("与已有的用户名相同或相似", people, bad)
    for punctuated in ("zhen-shuji", "zhen.shuji", "zhibu_shuj1"):
        _username_refused("不含标点", people, punctuated)
    assert User.objects.count() == users
    user, _ = role_assign(by=own, org=b1, role=Role.MEMBER, member=m1, username="zhenshu")
    assert user.username == "zhenshu"


def test_the_automatic_name_pattern_is_reserved_for_automatic_names(people):
    own = people.user("own_branch_secretary")
    b1, m1, m1b = people.orgs["B1"], people.members["m1"], people.members["m1b"]
    for bad in ("dy111", "DY111", "dylll", "dy1o5", f"dy{m1.pk}"):
        _username_refused("留给自动生成的账号", people, bad)
    assert not get_user_model().objects.filter(username__startswith="dy").exists()
    user, _ = role_assign(by=own, org=b1, role=Role.MEMBER, member=m1)
    assert user.username == f"dy{m1.pk}"
    # a name that only begins like one is a name like any other
    m1b.user = None
    Member.objects.filter(pk=m1b.pk).update(user=None)
    other, _ = role_assign(by=own, org=b1, role=Role.DEPUTY, member=m1b, username="dylan")
    assert other.username == "dylan"


def test_an_automatic_name_that_looks_like_an_existing_one_is_refused(people):
    own = people.user("own_branch_secretary")
    b1, m1 = people.orgs["B1"], people.members["m1"]
    get_user_model().objects.create_user(f"dy-{m1.pk}")  # made before the rule
    _refused("与已有的用户名相同或相似", by=own, org=b1, role=Role.MEMBER, member=m1)
    m1.refresh_from_db()
    assert m1.user is None
    user, _ = role_assign(by=own, org=b1, role=Role.MEMBER, member=m1, username="liyi")
    assert user.username == "liyi"


def test_a_bad_username_on_the_page_keeps_the_input_and_saves_nothing(people, client):
    client.force_login(people.user("own_branch_secretary"))
    url = reverse("orgs:roles", args=[people.orgs["B1"].pk])
    m1 = people.members["m1"]
    response = client.post(url, {"role": "member", "member": m1.pk, "username": "bad name"})
    assert "用户名“bad name”不可用" in response.content.decode()
    assert 'value="bad name"' in response.content.decode()
    m1.refresh_from_db()
    assert m1.user is None


# ---------------------------------------------------------------- one login per member


def test_opening_a_login_twice_makes_one_account(people):
    own = people.user("own_branch_secretary")
    b1, m1 = people.orgs["B1"], people.members["m1"]
    users = get_user_model().objects.count()
    user, password = role_assign(by=own, org=b1, role=Role.MEMBER, member=m1, username="li1")
    _refused("已有登录账号", by=own, org=b1, role=Role.MEMBER, member=m1, username="li1b")
    _refused("已是“组织B1”的党员", by=own, org=b1, role=Role.MEMBER, member=m1)
    assert get_user_model().objects.count() == users + 1
    m1.refresh_from_db()
    assert m1.user_id == user.pk


def test_a_stale_member_row_opens_no_second_login(people):
    """A request that read the member before another opened its login (the double click): the
    service reads the row again under a lock and links only a member that has no login."""
    own = people.user("own_branch_secretary")
    b1, m1 = people.orgs["B1"], people.members["m1"]
    stale = Member.objects.get(pk=m1.pk)
    first, _ = role_assign(by=own, org=b1, role=Role.MEMBER, member=m1, username="li1")
    assert stale.user_id is None
    _refused("已有登录账号", by=own, org=b1, role=Role.DEPUTY, member=stale, username="li1x")
    assert not get_user_model().objects.filter(username="li1x").exists()
    m1.refresh_from_db()
    assert m1.user_id == first.pk


def test_a_double_click_on_the_page_opens_one_login_with_a_clear_message(people, client):
    client.force_login(people.user("own_branch_secretary"))
    url = reverse("orgs:roles", args=[people.orgs["B1"].pk])
    m1 = people.members["m1"]
    data = {"role": "member", "member": m1.pk, "username": ""}
    users = get_user_model().objects.count()
    first = client.post(url, data, follow=True).content.decode()
    assert "初始密码" in first
    second = client.post(url, data).content.decode()
    assert "“李一”已是“组织B1”的党员" in second
    assert get_user_model().objects.count() == users + 1


postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks are PostgreSQL's"
)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_simultaneous_requests_open_one_login_and_leave_no_orphan():
    p = build_personas()
    own = p.user("own_branch_secretary")
    b1, m1 = p.orgs["B1"], p.members["m1"]
    users = get_user_model().objects.count()
    barrier = threading.Barrier(6)
    outcomes = [None] * 6

    def run(i):
        try:
            barrier.wait()
            role_assign(by=own, org=b1, role=Role.MEMBER, member=m1, username=f"li{i}")
            outcomes[i] = "ok"
        except ValidationError as error:
            outcomes[i] = error.messages[0]
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 1, outcomes
    assert all("已有登录账号" in o for o in outcomes if o != "ok"), outcomes
    assert get_user_model().objects.count() == users + 1
    m1.refresh_from_db()
    assert m1.user is not None and role_grant_exists(user=m1.user, org=b1, role=Role.MEMBER)


# ---------------------------------------------------------------- the admin's role grants


@pytest.fixture
def root(client):
    admin = get_user_model().objects.create_superuser("root", password="pw-root-123456")
    client.force_login(admin)
    return admin


def _grant_pk(user, org) -> int:
    from orgs.models import OrganizationUserObjectPermission

    return OrganizationUserObjectPermission.objects.get(user=user, content_object=org).pk


def test_the_admin_grants_a_role_only_to_a_members_login(people, root, client):
    from orgs.models import AuditEntry

    b1, b2 = people.orgs["B1"], people.orgs["B2"]
    stranger = make_user("stranger")  # an account with no member record
    linked = people.user("member_self")  # 李二's login, on B1's roll
    url = reverse("admin:orgs_organizationuserobjectpermission_add")
    response = client.post(url, {"user": stranger.pk, "content_object": b1.pk, "role": "deputy"})
    assert (
        response.status_code == 200
        and "角色只能授予党员本人的登录账号" in response.content.decode()
    )
    response = client.post(url, {"user": linked.pk, "content_object": b2.pk, "role": "member"})
    assert response.status_code == 200 and "党员角色只授予本组织的党员" in response.content.decode()
    assert not access.grants_for(_fresh(stranger))
    assert not role_grant_exists(user=linked, org=b2, role=Role.MEMBER)
    # anywhere in the province, to a member's login: the admin is not held to a scope
    response = client.post(url, {"user": linked.pk, "content_object": b2.pk, "role": "office"})
    assert response.status_code == 302
    assert role_grant_exists(user=linked, org=b2, role=Role.OFFICE)
    assert AuditEntry.objects.filter(action="role_grant", actor=root, org=b2).exists()


def test_bulk_deleting_grants_in_the_admin_revokes_each_with_an_audit_entry(people, root, client):
    from orgs.models import AuditEntry

    own, sibling = people.user("own_branch_secretary"), people.user("sibling_branch_secretary")
    b1, b2 = people.orgs["B1"], people.orgs["B2"]
    selected = [_grant_pk(own, b1), _grant_pk(sibling, b2)]
    response = client.post(
        reverse("admin:orgs_organizationuserobjectpermission_changelist"),
        {"action": "delete_selected", "_selected_action": selected, "post": "yes"},
    )
    assert response.status_code == 302
    assert not role_grant_exists(user=own, org=b1, role=Role.SECRETARY)
    assert not role_grant_exists(user=sibling, org=b2, role=Role.SECRETARY)
    revoked = AuditEntry.objects.filter(action="role_revoke", actor=root)
    assert sorted(revoked.values_list("org__code", flat=True)) == ["B1", "B2"]


def test_nobody_revokes_their_own_role_a_superuser_neither(people, root, client):
    from orgs.models import AuditEntry

    b1, b2 = people.orgs["B1"], people.orgs["B2"]
    role_grant(by=None, user=root, org=b1, role=Role.OFFICE)
    own_grant = _grant_pk(root, b1)
    other = _grant_pk(people.user("sibling_branch_secretary"), b2)
    delete = reverse("admin:orgs_organizationuserobjectpermission_delete", args=[own_grant])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    client.post(
        reverse("admin:orgs_organizationuserobjectpermission_changelist"),
        {"action": "delete_selected", "_selected_action": [own_grant, other], "post": "yes"},
    )
    assert role_grant_exists(user=root, org=b1, role=Role.OFFICE)
    assert role_grant_exists(user=people.user("sibling_branch_secretary"), org=b2, role="secretary")
    with pytest.raises(ValidationError, match="不能撤销自己的角色"):
        services.role_revoke(by=root, user=root, org=b1, role=Role.OFFICE)
    own = people.user("own_branch_secretary")
    with pytest.raises(ValidationError, match="不能撤销自己的角色"):
        services.role_revoke(by=own, user=own, org=b1, role=Role.SECRETARY)
    assert role_grant_exists(user=root, org=b1, role=Role.OFFICE)
    assert role_grant_exists(user=own, org=b1, role=Role.SECRETARY)
    assert not AuditEntry.objects.filter(action="role_revoke").exists()
