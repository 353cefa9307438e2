import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from pledges import services
from pledges.models import Pledge, PledgeStatus
from tests.personas import make_member
from tests.pledge_world import PNG, YEAR, member_pledge_fields, org_pledge_fields


@pytest.fixture
def as_user(client, world):
    def login(persona):
        client.force_login(world.user(persona))
        return client

    return login


def test_member_pledge_form_keeps_input_on_error(as_user, world):
    client = as_user("own_branch_secretary")
    url = reverse("pledges:create_member", args=[world.members["m1b"].pk]) + f"?year={YEAR}"
    data = {
        "kind": "annual",
        "category": "duty",
        "content": "带头学习",
        "target": "",
        "due_date": "2026-13-01",
    }
    response = client.post(url, data)
    page = response.content.decode()
    assert response.status_code == 200
    assert "带头学习" in page and "这个字段是必填项" in page
    assert not Pledge.objects.filter(content="带头学习").exists()


def test_member_pledge_form_shows_the_sector_hint_and_saves_a_draft(as_user, world):
    client = as_user("own_branch_secretary")
    url = reverse("pledges:create_member", args=[world.members["m1b"].pk]) + f"?year={YEAR}"
    assert "农村党员：带头致富" in client.get(url).content.decode()
    data = {"kind": "annual", "category": "duty", "content": "带头学习", "target": "12次",
            "due_date": "2026-12-01"}  # fmt: skip
    response = client.post(url, data)
    pledge = Pledge.objects.get(content="带头学习")
    assert response["Location"] == reverse("pledges:detail", args=[pledge.pk])
    assert pledge.status == PledgeStatus.DRAFT and pledge.year == YEAR


def test_vet_queue_shows_each_pledge_and_bulk_approves(as_user, world):
    client = as_user("parent_committee_secretary")
    page = client.get(reverse("pledges:vet_queue")).content.decode()
    assert "年内修通村道两公里" in page
    response = client.post(reverse("pledges:bulk_approve"), {"ids": [world.extra["po"].pk]})
    assert response.status_code == 302
    assert Pledge.objects.get(pk=world.extra["po"].pk).status == PledgeStatus.APPROVED


def test_vet_queue_query_count_does_not_grow(as_user, world, django_assert_max_num_queries):
    client = as_user("parent_committee_secretary")
    own = world.user("own_branch_secretary")
    # session, user, grants, count, rows, and the template's own queries
    with django_assert_max_num_queries(8) as few:
        client.get(reverse("pledges:vet_queue"))
    for i in range(20):
        pledge = services.pledge_create(
            by=own, year=YEAR, owner_org=world.orgs["B1"], **org_pledge_fields(content=f"第{i}项")
        )
        services.pledge_submit(by=own, pledge=pledge, today=datetime.date(YEAR, 2, 1))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("pledges:vet_queue"))
    assert response.context["page"].paginator.count == 21


def test_year_page_query_count_does_not_grow(as_user, world, django_assert_max_num_queries):
    client = as_user("own_branch_secretary")
    own = world.user("own_branch_secretary")
    url = reverse("pledges:year", args=[world.orgs["B1"].pk, YEAR])
    with django_assert_max_num_queries(12) as few:
        client.get(url)
    for i in range(25):
        member = make_member(
            world.orgs["B1"], f"新党员{i}", birth_date=datetime.date(1950 + i, 1, 1)
        )
        services.pledge_create(by=own, year=YEAR, owner_member=member, **member_pledge_fields())
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert "新党员24" in response.content.decode()


def test_fulfilment_page_takes_attachments(as_user, world):
    client = as_user("own_branch_secretary")
    pm = world.extra["pm"]
    upload = SimpleUploadedFile("现场.png", PNG, content_type="image/png")
    response = client.post(
        reverse("pledges:fulfil", args=[pm.pk]),
        {
            "period": f"{YEAR}-2",
            "status": "done",
            "text": "全部完成",
            "reason": "",
            "files": [upload],
        },
    )
    assert response.status_code == 302
    fulfilment = pm.fulfilments.get(period=2)
    assert fulfilment.attachments.get().original_name == "现场.png"
    bad = SimpleUploadedFile("假.png", b"not a picture")
    response = client.post(
        reverse("pledges:fulfil", args=[pm.pk]),
        {"period": f"{YEAR}-3", "status": "done", "text": "x", "files": [bad]},
    )
    assert "不是图片" in response.content.decode()
    assert not pm.fulfilments.filter(period=3).exists()


def test_public_notice_needs_no_login_and_shows_no_personal_data(client, world):
    response = client.get(reverse("public:notice", args=["b1"]) + f"?year={YEAR}")
    page = response.content.decode()
    assert response.status_code == 200
    assert "李一" in page and "每月走访困难群众一次" in page
    assert "1970" not in page and "出生" not in page
    qr = client.get(reverse("public:qr", args=["B1"]))
    assert qr["Content-Type"] == "image/svg+xml" and b"<svg" in qr.content


def test_home_lists_what_needs_doing(as_user, world):
    page = as_user("parent_committee_secretary").get(reverse("home")).content.decode()
    assert "待审核的公开承诺" in page


def test_org_page_links_to_the_pledges(as_user, world):
    page = as_user("own_branch_secretary").get(reverse("orgs:detail", args=[world.orgs["B1"].pk]))
    assert "公开承诺" in page.content.decode()


def test_submit_outside_window_shows_the_refusal(as_user, world):
    client = as_user("own_branch_secretary")
    pledge = services.pledge_create(
        by=world.user("own_branch_secretary"), year=YEAR - 1, owner_member=world.members["m1b"],
        **member_pledge_fields(due_date=datetime.date(YEAR - 1, 6, 1)),
    )  # fmt: skip
    response = client.post(reverse("pledges:submit", args=[pledge.pk]), follow=True)
    assert "年度承诺的提交时间为2025年01月01日至2025年03月31日" in response.content.decode()
    assert Pledge.objects.get(pk=pledge.pk).status == PledgeStatus.DRAFT


@pytest.mark.parametrize(
    "url",
    [
        "/pledges/overdue/?org=abc",
        "/pledges/missing/?org=1x",
        "/pledges/rectifications/?org=%C2%B2",
        "/pledges/mine/?member=abc",
        "/orgs/members/?org=abc",
    ],
)
def test_malformed_ids_in_the_query_string_are_404(as_user, url):
    assert as_user("own_branch_secretary").get(url).status_code == 404


def test_out_of_range_years_are_404(as_user, world):
    client = as_user("own_branch_secretary")
    b1 = world.orgs["B1"].pk
    for url in (
        f"/pledges/org/{b1}/0/",
        f"/pledges/secretary/{b1}/0/",
        f"/pledges/secretary/ledger/{b1}/99999/",
    ):
        assert client.get(url).status_code == 404, url


def test_bulk_approve_ignores_junk_ids(as_user):
    response = as_user("parent_committee_secretary").post(
        reverse("pledges:bulk_approve"), {"ids": ["²", "x"]}
    )
    assert response.status_code == 302


def test_next_must_stay_on_this_site(as_user, world):
    client = as_user("parent_committee_secretary")
    po = world.extra["po"]
    response = client.post(
        reverse("pledges:approve", args=[po.pk]), {"next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("pledges:detail", args=[po.pk])
    response = client.post(reverse("pledges:approve", args=[po.pk]), {"next": "/pledges/vet/"})
    assert response["Location"] == "/pledges/vet/"


def test_public_notice_leaks_no_personal_fields(client, world):
    from orgs import services as org_services

    org_services.member_update(by=None, member=world.members["m1"], post="村会计", ethnicity="回族")
    page = client.get(reverse("public:notice", args=["B1"]) + f"?year={YEAR}").content.decode()
    assert "李一" in page
    for private in ("村会计", "回族", "男", "1995", "走访12次"):
        assert private not in page, private
