import datetime
import io

import pytest
from django.urls import reverse

from orgs.models import Member, Organization
from tests.personas import make_member
from tests.test_roster import member_row, workbook


@pytest.fixture
def own_client(client, personas):
    client.force_login(personas.user("own_branch_secretary"))
    return client


MEMBER_FORM = {
    "name": "孙七",
    "gender": "女",
    "ethnicity": "汉族",
    "birth_date": "1980-06",
    "joined_on": "2005-07-01",
    "education": "大学本科",
    "post": "",
    "category": "full",
}


def test_member_create_saves_and_redirects(own_client, personas):
    response = own_client.post(
        reverse("orgs:member_create", args=[personas.orgs["B1"].pk]), MEMBER_FORM
    )
    member = Member.objects.get(name="孙七")
    assert response.status_code == 302
    assert response["Location"] == reverse("orgs:member_detail", args=[member.pk])
    assert member.org == personas.orgs["B1"] and member.birth_date == datetime.date(1980, 6, 1)


def test_member_create_bad_input_keeps_input_and_saves_nothing(own_client, personas):
    data = MEMBER_FORM | {"birth_date": "1980-13", "joined_on": "1990-01-01"}
    response = own_client.post(reverse("orgs:member_create", args=[personas.orgs["B1"].pk]), data)
    assert response.status_code == 200
    page = response.content.decode()
    assert "请按“年-月”填写" in page
    assert 'value="孙七"' in page
    assert not Member.objects.filter(name="孙七").exists()


def test_service_refusal_is_shown_on_the_field(own_client, personas):
    data = MEMBER_FORM | {"birth_date": "1995-01", "joined_on": "2005-07-01"}
    response = own_client.post(reverse("orgs:member_create", args=[personas.orgs["B1"].pk]), data)
    assert "入党时间应在年满十八岁之后" in response.content.decode()
    assert not Member.objects.filter(name="孙七").exists()


def test_member_edit_records_history(own_client, personas):
    m1 = personas.members["m1"]
    data = MEMBER_FORM | {
        "name": "李一",
        "birth_date": "1970-05",
        "joined_on": "1995-07-01",
        "post": "组织委员",
    }
    own_client.post(reverse("orgs:member_edit", args=[m1.pk]), data)
    m1.refresh_from_db()
    assert m1.post == "组织委员"
    page = own_client.get(reverse("orgs:member_detail", args=[m1.pk])).content.decode()
    assert "修改党员“李一”的信息" in page


def test_transfer_by_parent_secretary(client, personas):
    client.force_login(personas.user("parent_committee_secretary"))
    m1 = personas.members["m1"]
    url = reverse("orgs:member_transfer", args=[m1.pk])
    response = client.post(url, {"to_code": "b2", "on": "2026-06-01", "note": "工作调动"})
    assert response.status_code == 302
    m1.refresh_from_db()
    assert m1.org.code == "B2"


def test_transfer_out_of_the_secretarys_scope_returns_to_the_former_branch(own_client, personas):
    m1, b1 = personas.members["m1"], personas.orgs["B1"]
    url = reverse("orgs:member_transfer", args=[m1.pk])
    response = own_client.post(url, {"to_code": "B2", "on": "2026-06-01"}, follow=True)
    assert response.redirect_chain == [(reverse("orgs:detail", args=[b1.pk]), 302)]
    assert response.status_code == 200 and "已将“李一”转至“" in response.content.decode()
    m1.refresh_from_db()
    assert m1.org.code == "B2"


def test_transfer_within_the_secretarys_scope_returns_to_the_member(client, personas):
    client.force_login(personas.user("parent_committee_secretary"))
    m1 = personas.members["m1"]
    url = reverse("orgs:member_transfer", args=[m1.pk])
    response = client.post(url, {"to_code": "B2", "on": "2026-06-01"})
    assert response["Location"] == reverse("orgs:member_detail", args=[m1.pk])


def test_transfer_to_an_unknown_or_foreign_code_is_refused(own_client, personas):
    m1 = personas.members["m1"]
    url = reverse("orgs:member_transfer", args=[m1.pk])
    response = own_client.post(url, {"to_code": "B3", "on": "2026-06-01"})
    assert "找不到组织代码“B3”" in response.content.decode()
    m1.refresh_from_db()
    assert m1.org.code == "B1"


def test_org_create_and_move(client, personas):
    client.force_login(personas.user("parent_committee_secretary"))
    t1 = personas.orgs["T1"]
    response = client.post(
        reverse("orgs:create", args=[t1.pk]),
        {"name": "新支部", "code": "b10", "kind": "branch", "sector": "rural", "is_active": "on"},
    )
    new = Organization.objects.get(code="B10")
    assert response.status_code == 302 and new.parent == t1
    response = client.post(
        reverse("orgs:create", args=[personas.orgs["B1"].pk]),
        {"name": "错误", "code": "X", "kind": "committee", "sector": "rural"},
    )
    assert "不能设在“党支部”之下" in response.content.decode()
    response = client.post(reverse("orgs:move", args=[new.pk]), {"new_parent_code": "K2"})
    assert "在您管理的范围内找不到组织代码“K2”" in response.content.decode()


def test_org_page_shows_children_and_members(client, personas):
    client.force_login(personas.user("parent_committee_secretary"))
    page = client.get(reverse("orgs:detail", args=[personas.orgs["T1"].pk])).content.decode()
    assert "组织B1" in page and "组织B2" in page
    assert "导出花名册" in page


def test_org_page_query_count_does_not_grow_with_members(
    client, personas, django_assert_max_num_queries
):
    client.force_login(personas.user("parent_committee_secretary"))
    url = reverse("orgs:detail", args=[personas.orgs["B1"].pk])
    # session, user, organisation, grants, members page (count and rows), the appraisal entry
    # (subjects, sessions that left it out), breadcrumbs, figures, history, whether it reports
    # its statistics (the 统计报送 link); a branch has no children, and the subtree count is
    # the page's count
    with django_assert_max_num_queries(12):
        client.get(url)
    for i in range(60):
        make_member(
            personas.orgs["B1"], f"党员{i:02d}", birth_date=datetime.date(1950 + i % 20, 1, 1)
        )
    with django_assert_max_num_queries(12):  # the same queries, 60 members later
        client.get(url)


def test_member_list_query_count_is_bounded(client, personas, django_assert_max_num_queries):
    client.force_login(personas.user("parent_committee_secretary"))
    for i in range(80):
        make_member(
            personas.orgs["B2"], f"成员{i:02d}", birth_date=datetime.date(1950 + i % 20, 1, 1)
        )
    with django_assert_max_num_queries(5):  # session, user, grants, count, rows
        response = client.get(reverse("orgs:member_list"), {"q": "成员"})
    assert response.context["page"].paginator.count == 80
    assert len(response.context["page"].object_list) == 50


def test_member_list_is_scoped(own_client, personas):
    response = own_client.get(reverse("orgs:member_list"))
    names = {m.name for m in response.context["page"]}
    assert names == {"李一", "李二"}


def test_roster_import_page_lists_errors_and_writes_nothing(own_client, personas):
    stream = workbook(members=[member_row("坏", "B1", 出生年月="1972-13")])
    upload = io.BytesIO(stream.getvalue())
    upload.name = "roster.xlsx"
    before = Member.objects.count()
    response = own_client.post(
        reverse("orgs:roster_import", args=[personas.orgs["B1"].pk]), {"file": upload}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "发现 1 处错误" in page and "出生年月" in page
    assert Member.objects.count() == before


def test_roster_import_page_refuses_other_file_types(own_client, personas):
    upload = io.BytesIO(b"a,b")
    upload.name = "roster.csv"
    response = own_client.post(
        reverse("orgs:roster_import", args=[personas.orgs["B1"].pk]), {"file": upload}
    )
    assert "请上传 .xlsx 格式" in response.content.decode()


def test_roster_export_download(own_client, personas):
    response = own_client.get(reverse("orgs:roster_export", args=[personas.orgs["B1"].pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")


@pytest.mark.django_db
def test_login_page_in_chinese(client):
    page = client.get(reverse("login")).content.decode()
    assert "登录" in page and 'lang="zh-hans"' in page
    response = client.post(reverse("login"), {"username": "x", "password": "y"})
    assert "用户名或密码不正确" in response.content.decode()


def test_secretary_opens_a_login_for_a_member_and_grants_roles(client, personas):
    from orgs.models import Role
    from orgs.services import role_grant_exists

    client.force_login(personas.user("own_branch_secretary"))
    url = reverse("orgs:roles", args=[personas.orgs["B1"].pk])
    m1 = personas.members["m1"]
    response = client.post(url, {"role": "member", "member": m1.pk, "username": ""}, follow=True)
    assert "初始密码" in response.content.decode()
    m1.refresh_from_db()
    assert m1.user and role_grant_exists(user=m1.user, org=personas.orgs["B1"], role=Role.MEMBER)
    response = client.post(url, {"role": "secretary", "member": m1.pk})
    assert "role" in response.context["form"].errors  # a branch cannot appoint its own secretary
    assert not role_grant_exists(user=m1.user, org=personas.orgs["B1"], role=Role.SECRETARY)
    response = client.post(url, {"role": "deputy", "username": "nobody"})
    assert "member" in response.context["form"].errors  # a member from the list, never a name


def test_parent_appoints_a_secretary_and_nobody_revokes_themselves(client, personas):
    from orgs.models import OrganizationUserObjectPermission, Role
    from orgs.services import role_grant_exists

    client.force_login(personas.user("parent_committee_secretary"))
    url = reverse("orgs:roles", args=[personas.orgs["B2"].pk])
    m2 = personas.members["m2"]
    client.post(url, {"role": "secretary", "member": m2.pk})
    m2.refresh_from_db()
    assert role_grant_exists(user=m2.user, org=personas.orgs["B2"], role=Role.SECRETARY)
    own_grant = OrganizationUserObjectPermission.objects.get(
        user=personas.user("own_branch_secretary"), content_object=personas.orgs["B1"]
    )
    client.force_login(personas.user("own_branch_secretary"))
    response = client.post(
        reverse("orgs:role_revoke", args=[personas.orgs["B1"].pk]),
        {"grant": own_grant.pk},
        follow=True,
    )
    assert "您不能撤销“组织B1”的书记角色" in response.content.decode()  # appointed from above
    assert OrganizationUserObjectPermission.objects.filter(pk=own_grant.pk).exists()
    from tests.personas import make_user

    deputy = make_user("deputy_b1", Role.DEPUTY, personas.orgs["B1"])
    grant = OrganizationUserObjectPermission.objects.get(user=deputy)
    client.force_login(deputy)
    response = client.post(
        reverse("orgs:role_revoke", args=[personas.orgs["B1"].pk]), {"grant": grant.pk}, follow=True
    )
    assert "不能撤销自己的角色" in response.content.decode()
    assert OrganizationUserObjectPermission.objects.filter(pk=grant.pk).exists()
