import datetime

import pytest
from django.core.exceptions import ValidationError

from orgs import access, selectors, services
from orgs.access import Action
from orgs.models import (
    AuditEntry,
    Member,
    Membership,
    Organization,
    OrgKind,
    Role,
    kind_allowed_under,
)
from tests.personas import make_member, make_org


def test_kinds_nest_downwards_only():
    assert kind_allowed_under(OrgKind.BRANCH, OrgKind.COMMITTEE)
    assert kind_allowed_under(OrgKind.COMMITTEE, OrgKind.COMMITTEE)
    assert kind_allowed_under(OrgKind.GROUP, OrgKind.BRANCH)
    assert not kind_allowed_under(OrgKind.COMMITTEE, OrgKind.BRANCH)
    assert not kind_allowed_under(OrgKind.GROUP, OrgKind.COMMITTEE)
    assert not kind_allowed_under(OrgKind.CITY, OrgKind.CITY)


def test_committee_under_branch_is_refused_with_a_clear_message(personas):
    with pytest.raises(ValidationError) as info:
        make_org("X1", OrgKind.COMMITTEE, personas.orgs["B1"])
    assert "“基层党委”不能设在“党支部”之下" in str(info.value)
    assert not Organization.objects.filter(code="X1").exists()


def test_duplicate_code_is_refused(personas):
    with pytest.raises(ValidationError) as info:
        make_org("B2", OrgKind.BRANCH, personas.orgs["T1"])
    assert "组织代码“B2”已被" in str(info.value)


def test_changing_kind_must_fit_the_children(personas):
    with pytest.raises(ValidationError) as info:
        services.organization_update(by=None, org=personas.orgs["T1"], kind=OrgKind.BRANCH)
    assert "下级组织" in str(info.value)


def test_move_takes_the_subtree_and_keeps_the_tree_consistent(personas):
    o = personas.orgs
    services.organization_move(by=None, org=o["T1"], new_parent=o["K2"])
    for org in Organization.objects.all():
        org.refresh_from_db()
    b1 = Organization.objects.get(code="B1")
    k2 = Organization.objects.get(code="K2")
    assert k2.lft < b1.lft < b1.rght < k2.rght
    assert AuditEntry.objects.filter(action="org_move", org=o["T1"]).exists()


@pytest.mark.parametrize(
    "target,message",
    [("B1", "不能移到本组织或其下级组织之下"), ("K1", "已经在"), ("B3", "不能设在")],
)
def test_move_refusals(personas, target, message):
    with pytest.raises(ValidationError) as info:
        services.organization_move(
            by=None, org=personas.orgs["T1"], new_parent=personas.orgs[target]
        )
    assert message in str(info.value)


def test_members_are_kept_in_branch_level_organisations(personas):
    with pytest.raises(ValidationError) as info:
        make_member(personas.orgs["K1"], "县委党员")
    assert "党委、党总支或党支部" in str(info.value)


def test_joining_before_eighteen_is_refused(personas):
    with pytest.raises(ValidationError) as info:
        make_member(
            personas.orgs["B1"],
            "少年",
            birth_date=datetime.date(2000, 1, 1),
            joined_on=datetime.date(2010, 1, 1),
        )
    assert "十八岁" in str(info.value)


def test_transfer_keeps_dated_history_and_members_on_a_date(personas):
    o, m1 = personas.orgs, personas.members["m1"]
    services.member_transfer(by=None, member=m1, to_org=o["B2"], on=datetime.date(2026, 5, 10))
    m1.refresh_from_db()
    assert m1.org == o["B2"]
    assert list(m1.memberships.values_list("org__code", "start", "end")) == [
        ("B1", datetime.date(2020, 1, 1), datetime.date(2026, 5, 10)),
        ("B2", datetime.date(2026, 5, 10), None),
    ]
    assert m1 in selectors.members_on(org=o["B1"], day=datetime.date(2026, 3, 31))
    assert m1 not in selectors.members_on(org=o["B1"], day=datetime.date(2026, 6, 30))
    assert m1 in selectors.members_on(org=o["B2"], day=datetime.date(2026, 6, 30))
    assert selectors.membership_org_on(member=m1, day=datetime.date(2026, 5, 9)) == o["B1"]


def test_members_on_a_date_is_one_query(personas, django_assert_num_queries):
    with django_assert_num_queries(1):  # the members joined to their dated memberships
        list(selectors.members_on(org=personas.orgs["B1"], day=datetime.date(2026, 1, 1)))


def test_transfer_refusals_write_nothing(personas):
    o, m1 = personas.orgs, personas.members["m1"]
    with pytest.raises(ValidationError):
        services.member_transfer(by=None, member=m1, to_org=o["B1"], on=datetime.date(2026, 5, 1))
    with pytest.raises(ValidationError) as info:
        services.member_transfer(by=None, member=m1, to_org=o["B2"], on=datetime.date(2019, 1, 1))
    assert "转接日期应晚于" in str(info.value)
    with pytest.raises(ValidationError):
        services.member_transfer(
            by=None, member=m1, to_org=o["T1"].parent, on=datetime.date(2026, 5, 1)
        )
    assert Membership.objects.filter(member=m1).count() == 1
    assert Member.objects.get(pk=m1.pk).org == o["B1"]


def test_transferring_the_secretary_clears_the_post(personas):
    o, m1 = personas.orgs, personas.members["m1"]
    services.organization_update(by=None, org=o["B1"], secretary=m1)
    services.member_transfer(by=None, member=m1, to_org=o["B2"], on=datetime.date(2026, 5, 1))
    o["B1"].refresh_from_db()
    assert o["B1"].secretary is None


def test_secretary_must_belong_to_the_subtree(personas):
    with pytest.raises(ValidationError) as info:
        services.organization_update(
            by=None, org=personas.orgs["B1"], secretary=personas.members["m3"]
        )
    assert "书记应为本组织或下级组织的党员" in str(info.value)


def test_update_without_change_writes_no_history(personas):
    before = AuditEntry.objects.count()
    services.member_update(by=None, member=personas.members["m1"], name="李一")
    assert AuditEntry.objects.count() == before
    services.member_update(by=None, member=personas.members["m1"], post="委员")
    entry = AuditEntry.objects.first()
    assert entry.changes == {"post": ["", "委员"]}


def test_year_figures(personas):
    services.org_year_figure_set(by=None, org=personas.orgs["B1"], year=2026, activist_count=3)
    services.org_year_figure_set(by=None, org=personas.orgs["B1"], year=2026, activist_count=4)
    assert personas.orgs["B1"].year_figures.get(year=2026).activist_count == 4
    with pytest.raises(ValidationError):
        services.org_year_figure_set(by=None, org=personas.orgs["B1"], year=2026, activist_count=-1)


def test_children_carry_subtree_member_counts_in_one_query(personas, django_assert_num_queries):
    with django_assert_num_queries(1):  # the children, each counting its subtree in a subquery
        children = {c.code: c.member_count for c in selectors.org_children(org=personas.orgs["T1"])}
    assert children == {"B1": 2, "B2": 1}
    with django_assert_num_queries(1):  # the same single query one level up
        cities = {c.code: c.member_count for c in selectors.org_children(org=personas.orgs["P"])}
    assert cities == {"C1": 3, "C2": 1}


def test_transfer_hooks_run_inside_the_transfer(personas, monkeypatch):
    """Later apps move what follows the member through orgs.extensions; a hook that refuses
    undoes the whole transfer."""
    from orgs import extensions

    o, m1 = personas.orgs, personas.members["m1"]
    calls = []

    def record(**kwargs):
        calls.append(kwargs)
        if kwargs["on"].month == 6:
            raise ValidationError("hook refuses")

    monkeypatch.setattr(extensions, "member_transfer_hooks", [record])
    with pytest.raises(ValidationError):
        services.member_transfer(by=None, member=m1, to_org=o["B2"], on=datetime.date(2026, 6, 1))
    assert Member.objects.get(pk=m1.pk).org == o["B1"]
    assert Membership.objects.filter(member=m1).count() == 1
    m1.refresh_from_db()
    services.member_transfer(by=None, member=m1, to_org=o["B2"], on=datetime.date(2026, 5, 1))
    assert calls[-1] == {
        "member": m1, "from_org": o["B1"], "to_org": o["B2"], "on": datetime.date(2026, 5, 1),
        "by": None,
    }  # fmt: skip


# ---------------------------------------------------------------- one record per person

DUPLICATE = "与已有党员重复（姓名、出生年月、入党时间都相同）；如为同一人，请办理组织关系转接"


def _counts():
    return Member.objects.count(), Membership.objects.count(), AuditEntry.objects.count()


def test_a_second_record_of_one_person_is_refused_anywhere_in_the_province(personas):
    before = _counts()  # 张三 (1970-05, 1995-07-01) is on B3's roll, in another city
    with pytest.raises(ValidationError) as caught:
        make_member(personas.orgs["B1"], "张三")
    assert caught.value.message_dict == {"name": [DUPLICATE + "。"]}  # not where the other is
    assert _counts() == before
    other = make_member(personas.orgs["B1"], "张三", birth_date=datetime.date(1970, 6, 1))
    assert other.pk  # another birth month is another person


def test_an_edit_that_makes_a_member_anothers_twin_is_refused(personas):
    m1 = personas.members["m1"]  # 李一, with the same dates as 王二 (m2)
    before = _counts()
    with pytest.raises(ValidationError, match=DUPLICATE):
        services.member_update(by=None, member=m1, name="王二")
    m1.refresh_from_db()
    assert m1.name == "李一" and _counts() == before
    services.member_update(by=None, member=m1, name="王二", birth_date=datetime.date(1971, 5, 1))
    m1.refresh_from_db()
    assert (m1.name, m1.birth_date) == ("王二", datetime.date(1971, 5, 1))


def test_twins_recorded_before_the_rule_keep_their_other_fields_editable(personas):
    m1 = personas.members["m1"]
    twin = Member.objects.create(
        org=personas.orgs["B2"], name=m1.name, gender=m1.gender, birth_date=m1.birth_date,
        joined_on=m1.joined_on, education=m1.education,
    )  # fmt: skip
    services.member_update(by=None, member=twin, post="村民小组长")
    twin.refresh_from_db()
    assert twin.post == "村民小组长"


def test_the_member_form_refuses_the_same_person_twice_and_saves_nothing(personas, client):
    from django.urls import reverse

    client.force_login(personas.user("own_branch_secretary"))
    url = reverse("orgs:member_create", args=[personas.orgs["B1"].pk])
    data = {
        "name": "测试员", "gender": "男", "ethnicity": "汉族", "birth_date": "1980-06",
        "joined_on": "2005-07-01", "education": "高中", "post": "", "category": "full",
    }  # fmt: skip
    assert client.post(url, data).status_code == 302
    before = _counts()
    response = client.post(url, data)
    assert response.status_code == 200
    assert response.context["form"].errors["name"] == [DUPLICATE + "。"]
    assert 'value="测试员"' in response.content.decode()
    assert _counts() == before
    assert Member.objects.filter(name="测试员").count() == 1


def test_the_roster_import_still_updates_and_round_trips(personas):
    from orgs import roster
    from tests.test_roster import export, member_row, workbook

    o = personas.orgs
    result = roster.import_roster(export(o["C1"]), by=None, root=o["C1"])
    assert not result.changed, result.summary()
    rows = [
        member_row("李一", "B1", 出生年月="1970-05", 入党时间="1995-07-01", 现任职务="组长"),
        member_row("李一", "B2", 出生年月="1970-06", 入党时间="1995-07-01"),
    ]
    result = roster.import_roster(workbook(members=rows), by=None, root=o["C1"])
    assert (result.members_updated, result.members_created) == (1, 1), result.summary()
    assert Member.objects.get(pk=personas.members["m1"].pk).post == "组长"
    assert Member.objects.filter(name="李一").count() == 2


def test_a_transfer_is_recorded_on_or_after_its_day(personas):
    from django.utils import timezone

    m1 = personas.members["m1"]
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    with pytest.raises(ValidationError) as caught:
        services.member_transfer(by=None, member=m1, to_org=personas.orgs["B2"], on=tomorrow)
    assert "on" in caught.value.error_dict
    m1.refresh_from_db()
    assert m1.org == personas.orgs["B1"]


def test_a_transferred_members_login_takes_its_member_role_along_and_leaves_a_deputy_post(
    personas,
):
    from orgs.access import Action, can, orgs_visible_to

    b1, b2, m1b = personas.orgs["B1"], personas.orgs["B2"], personas.members["m1b"]
    login = personas.user("member_self")  # m1b's login, a member of B1
    services.role_grant(by=None, user=login, org=b1, role=Role.DEPUTY)
    services.member_transfer(
        by=None, member=m1b, to_org=b2, on=datetime.date.today() - datetime.timedelta(days=1)
    )
    login = type(login).objects.get(pk=login.pk)
    assert not services.role_grant_exists(user=login, org=b1, role=Role.MEMBER)
    assert not services.role_grant_exists(user=login, org=b1, role=Role.DEPUTY)
    assert services.role_grant_exists(user=login, org=b2, role=Role.MEMBER)
    assert b2 in orgs_visible_to(login) and b1 not in orgs_visible_to(login)
    assert not can(login, Action.EDIT, b1)


@pytest.mark.parametrize(
    "typed", ["李\u3000一", "李 一", "李\u00a0一", "李\u200d一", "李\U0001d159一", "李\u2028一",
              "李\u3164一", "李\u034f一", "李一\ufe0f", "李\U000e0020一"],
)  # fmt: skip
def test_a_name_with_spaces_or_invisible_characters_inside_is_the_same_person(personas, typed):
    m1 = personas.members["m1"]  # 李一
    with pytest.raises(ValidationError, match="与已有党员重复"):
        services.member_create(
            by=None, org=personas.orgs["B2"], name=typed, gender=m1.gender,
            birth_date=m1.birth_date, joined_on=m1.joined_on, education=m1.education,
        )  # fmt: skip


def test_a_name_keeps_its_visible_marks():
    from orgs.text import person_name

    assert person_name("买买提·艾力") == "买买提·艾力"
    assert person_name("e\u0301mile") == "\u00e9mile"


# ---------------------------------------------------------------- each service re-checks its actor

DAY_BEFORE = datetime.date.today() - datetime.timedelta(days=1)
MEMBER_FIELDS = {
    "name": "周八",
    "gender": "男",
    "ethnicity": "汉族",
    "birth_date": datetime.date(1980, 1, 1),
    "joined_on": datetime.date(2005, 7, 1),
    "education": "高中",
}

# service call (by the persona), the persona it refuses and its message, the persona it accepts
ACTOR_CASES = {
    "organization_create": (
        lambda by, o, m: services.organization_create(
            by=by, parent=o["B1"], name="第一党小组", code="B1-G1", kind=OrgKind.GROUP,
            sector=o["B1"].sector,
        ),
        "sibling_branch_secretary", "您不能在“组织B1”之下新建党组织", "own_branch_secretary",
    ),
    "organization_update": (
        lambda by, o, m: services.organization_update(by=by, org=o["B1"], name="改名党支部"),
        "office_inside", "您不能修改“组织B1”", "parent_committee_secretary",
    ),
    "org_year_figure_set": (
        lambda by, o, m: services.org_year_figure_set(
            by=by, org=o["B1"], year=2026, activist_count=3
        ),
        "unrelated_committee_secretary", "您不能填报“组织B1”的年度数据", "own_branch_secretary",
    ),
    "member_create": (
        lambda by, o, m: services.member_create(by=by, org=o["B1"], **MEMBER_FIELDS),
        "sibling_branch_secretary", "您不能在“组织B1”新增党员", "own_branch_secretary",
    ),
    "member_update": (
        lambda by, o, m: services.member_update(by=by, member=m["m1"], post="组织委员"),
        "member_self", "您不能修改“李一”的信息", "parent_committee_secretary",
    ),
    "member_transfer": (
        lambda by, o, m: services.member_transfer(
            by=by, member=m["m1"], to_org=o["B2"], on=DAY_BEFORE
        ),
        "office_inside", "只有本支部或上级组织的书记、副书记可以办理转接", "own_branch_secretary",
    ),
    "organization_move": (
        lambda by, o, m: services.organization_move(by=by, org=o["B1"], new_parent=o["T3"]),
        "own_branch_secretary", "只有上级组织的书记、副书记可以移动本组织", "county_secretary",
    ),
}  # fmt: skip


@pytest.fixture
def with_t3(personas):
    """A second town committee in K1, for B1 to move to."""
    personas.orgs["T3"] = make_org("T3", OrgKind.COMMITTEE, personas.orgs["K1"])
    return personas


@pytest.mark.parametrize("service", ACTOR_CASES)
def test_a_service_refuses_an_actor_the_page_would_refuse(with_t3, service):
    personas = with_t3
    call, refused, message, accepted = ACTOR_CASES[service]
    o, m = personas.orgs, personas.members
    before = (Organization.objects.count(), Member.objects.count(), AuditEntry.objects.count())
    with pytest.raises(ValidationError) as info:
        call(personas.user(refused), o, m)
    assert message in str(info.value)
    assert (Organization.objects.count(), Member.objects.count(), AuditEntry.objects.count()) == (
        before
    )
    call(personas.user(accepted), o, m)  # the same call by one the page lets do it
    assert AuditEntry.objects.count() > before[2]


def test_a_transfer_goes_only_where_the_actor_may_send_the_member(personas):
    o, m1 = personas.orgs, personas.members["m1"]
    own = personas.user("own_branch_secretary")
    with pytest.raises(ValidationError, match="不能转入“组织B3”：它不在您可转入的范围内"):
        services.member_transfer(by=own, member=m1, to_org=o["B3"], on=DAY_BEFORE)
    assert Member.objects.get(pk=m1.pk).org == o["B1"]
    services.member_transfer(by=own, member=m1, to_org=o["B2"], on=DAY_BEFORE)  # a sibling
    assert Member.objects.get(pk=m1.pk).org == o["B2"]


def test_a_move_goes_only_under_an_organisation_the_actor_leads(personas):
    o = personas.orgs
    parent = personas.user("parent_committee_secretary")
    with pytest.raises(ValidationError, match="您不能把党组织移到“组织T2”之下"):
        services.organization_move(by=parent, org=o["B1"], new_parent=o["T2"])
    assert Organization.objects.get(pk=o["B1"].pk).parent_id == o["T1"].pk


def test_the_system_and_the_admins_superuser_act_unchecked(personas):
    from django.contrib.auth import get_user_model

    root = get_user_model().objects.create_superuser("root", password="pw-root-123456")
    services.organization_update(by=None, org=personas.orgs["B1"], name="系统改名")
    services.organization_update(by=root, org=personas.orgs["B1"], name="省委办公室改名")
    assert Organization.objects.get(pk=personas.orgs["B1"].pk).name == "省委办公室改名"


def test_a_refusal_is_decided_on_the_tree_as_it_is_now(personas):
    """Grants read before organisations were added (a roster import adds them as it goes) do not
    refuse a member for a branch created in the same request."""
    parent = personas.user("parent_committee_secretary")
    assert access.can(parent, Action.MANAGE, personas.orgs["B1"])  # grants read and kept
    b4 = services.organization_create(
        by=parent, parent=personas.orgs["T1"], name="新支部", code="B4", kind=OrgKind.BRANCH,
        sector=personas.orgs["T1"].sector,
    )  # fmt: skip
    member = services.member_create(by=parent, org=b4, **MEMBER_FIELDS)
    assert member.org == b4
