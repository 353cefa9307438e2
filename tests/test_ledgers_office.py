"""The county office's inspection of the 写实簿 (§四.3 检查指导), the verify page, the printed
forms and the batch print (ledgers/views_office.py, ledgers/views_print.py, ledgers/jobs.py).

The county below is made by hand: its ledgers are completed for the first half of 2026 through
the services, as the secretaries would (a reason for each missing record, the members' paper
signatures recorded by their branch secretary, then the secretaries' own)."""

from __future__ import annotations

import datetime
import io
import subprocess
import zipfile
from dataclasses import dataclass, field

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ledgers import jobs as ledger_jobs
from ledgers import sections as S
from ledgers import selectors, services
from ledgers.models import Ledger, LedgerKind, Signature
from ledgers.services import SignItem
from orgs import jobs as org_jobs
from orgs import services as org_services
from orgs.models import Job, JobState, OrgKind, Role
from orgs.periods import Period
from tests.personas import make_member, make_org, make_user

YEAR = 2026
H1 = Period.half(YEAR, 1)
TODAY = datetime.date(2026, 7, 20)
PAPER_ON = datetime.date(2026, 7, 10)
MEMBER_H1 = ("pledge", "q1", "q1r", "q2", "q2r")
ORG_H1 = ("pledge", "h1", "h1r")


@dataclass
class County:
    orgs: dict = field(default_factory=dict)
    members: dict = field(default_factory=dict)
    secretaries: dict = field(default_factory=dict)  # org code → the secretary's user
    office: object = None


def _secretary(county: County, code: str):
    user = make_user(f"sec-{code}", Role.SECRETARY, county.orgs[code])
    user.first_name = f"书记{code}"
    user.save(update_fields=["first_name"])
    county.secretaries[code] = get_user_model().objects.get(pk=user.pk)


def add_committee(county: County, code: str, branches: dict[str, int]) -> None:
    """A 基层党委 `code` under the county, with branches of the given sizes, each with its
    secretary."""
    county.orgs[code] = make_org(code, OrgKind.COMMITTEE, county.orgs["K"], name=f"{code}党委")
    _secretary(county, code)
    for branch, size in branches.items():
        county.orgs[branch] = make_org(
            branch, OrgKind.BRANCH, county.orgs[code], name=f"{branch}党支部"
        )
        _secretary(county, branch)
        for n in range(size):
            key = f"{branch}-{n}"
            county.members[key] = make_member(county.orgs[branch], f"党员{branch}之{n}")
    for org in county.orgs.values():
        org.refresh_from_db()


def build_county() -> County:
    """K 县委 ── T1 党委 ──┬── B11 (3 members)      ── T2 党委 ── B21 (1 member)
                          └── B12 (1 member)
    and the county office."""
    county = County()
    county.orgs["P"] = make_org("XP", OrgKind.PROVINCE, name="某省委")
    county.orgs["K"] = make_org("XK", OrgKind.COUNTY, county.orgs["P"], name="某县委")
    add_committee(county, "T1", {"B11": 3, "B12": 1})
    add_committee(county, "T2", {"B21": 1})
    county.office = make_user("county-office", Role.OFFICE, county.orgs["K"])
    return county


def sign_member(county: County, key: str, sections=MEMBER_H1) -> None:
    """The member's ledger signed in `sections`: the branch secretary gives the reason each
    record is missing, records the member's paper signature, then signs the branch's slots."""
    member = county.members[key]
    secretary = county.secretaries[member.org.code]
    for section in sections:
        services.ledger_note_save(
            by=secretary, subject=member, year=YEAR, section=section, kind="missing",
            text="本期无此记录（测试）", today=TODAY,
        )  # fmt: skip
    own = [SignItem(member, s, S.MEMBER_SELF) for s in sections if s in ("pledge", "q1", "q2")]
    if own:
        services.ledger_sign_many(
            by=secretary, year=YEAR, items=own, paper_on=PAPER_ON, today=TODAY
        )
    branch = [SignItem(member, s, S.BRANCH) for s in sections if s in ("pledge", "q1r", "q2r")]
    if branch:
        services.ledger_sign_many(by=secretary, year=YEAR, items=branch, today=TODAY)


def sign_org(county: County, code: str) -> None:
    """The organisation's ledger signed for the first half: its own secretary, then the one
    above."""
    org = county.orgs[code]
    upper = county.secretaries[org.parent.code]
    for section in ORG_H1:
        services.ledger_note_save(
            by=upper, subject=org, year=YEAR, section=section, kind="missing",
            text="本期无此记录（测试）", today=TODAY,
        )  # fmt: skip
    services.ledger_sign_many(
        by=county.secretaries[code], year=YEAR, today=TODAY,
        items=[SignItem(org, "pledge", S.ORG_SELF), SignItem(org, "h1", S.ORG_SELF)],
    )  # fmt: skip
    services.ledger_sign_many(
        by=upper, year=YEAR, today=TODAY,
        items=[SignItem(org, "pledge", S.UPPER), SignItem(org, "h1r", S.UPPER)],
    )  # fmt: skip


@pytest.fixture
def county(db) -> County:
    county = build_county()
    sign_member(county, "B11-0")  # complete
    sign_member(county, "B11-1", sections=("pledge",))  # part-signed
    sign_org(county, "B11")  # complete
    return county


def _rows(county: County) -> dict:
    return {
        row.org.code: (row.members, row.members_complete, row.orgs, row.orgs_complete)
        for row in selectors.inspection(county=county.orgs["K"], half=H1)
    }


def _ledger(county: County, key: str) -> Ledger:
    return Ledger.objects.get(kind=LedgerKind.MEMBER, year=YEAR, member=county.members[key])


# ---------------------------------------------------------------- inspection


def test_the_inspection_counts_complete_ledgers_per_committee(county):
    # T1: 4 members (one complete, one part-signed); B11 and B12 below it, B11 complete
    assert _rows(county) == {"T1": (4, 1, 2, 1), "T2": (1, 0, 1, 0)}


def test_each_open_count_equals_the_length_of_its_drill_down(county, client):
    rows = selectors.inspection(county=county.orgs["K"], half=H1)
    for row in rows:
        members = selectors.unsigned_members(within=row.org, half=H1)
        orgs = selectors.unsigned_orgs(within=row.org, half=H1)
        assert row.members_open == members.count() == len(list(members)), row.org.name
        assert row.orgs_open == orgs.count() == len(list(orgs)), row.org.name
    client.force_login(county.office)
    url = reverse("ledgers:unsigned", args=[county.orgs["T1"].pk, H1.slug])
    page = client.get(url).content.decode()
    listed = [m for m in county.members.values() if m.name in page]
    assert sorted(m.name for m in listed) == ["党员B11之1", "党员B11之2", "党员B12之0"]
    county_page = reverse("ledgers:inspection", args=[county.orgs["K"].pk, H1.slug])
    assert f'<a href="{county_page}">' in page  # the way back, for the county's office
    page = client.get(url + "?kind=orgs").content.decode()
    assert "B12党支部" in page and "B11党支部</a>" not in page
    client.force_login(county.secretaries["T1"])  # reads T1, not the county
    page = client.get(url).content.decode()
    own_page = reverse("ledgers:inspection", args=[county.orgs["T1"].pk, H1.slug])
    assert f'<a href="{own_page}">' in page and county_page not in page


def test_a_withdrawn_signature_makes_the_ledger_open_again(county):
    secretary = county.secretaries["B11"]
    signature = Signature.objects.get(
        ledger=_ledger(county, "B11-0"), section="q2r", withdrawn_at__isnull=True
    )
    services.signature_withdraw(by=secretary, signature=signature, reason="点评内容需更正")
    assert _rows(county)["T1"] == (4, 0, 2, 1)
    assert county.members["B11-0"] in selectors.unsigned_members(within=county.orgs["T1"], half=H1)


def test_the_inspection_page_shows_the_rows_the_total_and_links_to_the_open_ledgers(county, client):
    client.force_login(county.office)
    response = client.get(reverse("ledgers:inspection", args=[county.orgs["K"].pk, H1.slug]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "T1党委" in page and "T2党委" in page
    assert "25.0%" in page  # T1: one of four member ledgers complete
    assert "50.0%" in page  # T1: one of two organisation ledgers
    unsigned = reverse("ledgers:unsigned", args=[county.orgs["T1"].pk, H1.slug])
    assert f'href="{unsigned}">3<' in page
    assert f'href="{unsigned}?kind=orgs">1<' in page
    # the total row: 5 members, 1 complete, 4 open; 3 organisations, 1 complete
    assert "<th>合计</th>" in page
    total = page[page.index("<th>合计</th>") :]
    cells = [c.split("<")[0] for c in total.split('<td class="num">')[1:9]]
    assert cells == ["5", "1", "4", "20.0%", "3", "1", "2", "33.3%"]


def test_the_half_year_switches(county, client):
    client.force_login(county.office)
    url = reverse("ledgers:inspection", args=[county.orgs["K"].pk, "2026H2"])
    page = client.get(url).content.decode()
    assert reverse("ledgers:inspection", args=[county.orgs["K"].pk, "2026H1"]) in page
    assert reverse("ledgers:inspection", args=[county.orgs["K"].pk, "2027H1"]) in page
    # nothing signed for the second half
    assert _rows(county) != {
        r.org.code: (r.members, r.members_complete, r.orgs, r.orgs_complete)
        for r in selectors.inspection(county=county.orgs["K"], half=Period.half(YEAR, 2))
    }


@pytest.mark.parametrize("slug", ["2026Q1", "2026Y1", "2026H3", "junk"])
def test_a_period_that_is_not_a_half_year_is_404(county, client, slug):
    client.force_login(county.office)
    url = reverse("ledgers:inspection", args=[county.orgs["K"].pk, slug])
    assert client.get(url).status_code == 404


def test_an_organisation_without_a_committee_below_is_404(county, client):
    client.force_login(county.office)
    assert (
        client.get(reverse("ledgers:inspection", args=[county.orgs["B11"].pk, H1.slug])).status_code
        == 404
    )
    # the drill-down is for a 基层党委
    url = reverse("ledgers:unsigned", args=[county.orgs["K"].pk, H1.slug])
    assert client.get(url).status_code == 404


def test_the_inspection_is_404_outside_the_readers_scope(county, client):
    t1 = county.secretaries["T1"]
    client.force_login(t1)
    # T1's secretary inspects T1 (a 基层党委 holds itself) but not the county or T2
    assert (
        client.get(reverse("ledgers:inspection", args=[county.orgs["T1"].pk, H1.slug])).status_code
        == 200
    )  # noqa: E501
    for code in ("K", "T2"):
        url = reverse("ledgers:inspection", args=[county.orgs[code].pk, H1.slug])
        assert client.get(url).status_code == 404, code
    url = reverse("ledgers:unsigned", args=[county.orgs["T2"].pk, H1.slug])
    assert client.get(url).status_code == 404


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_inspection_and_its_drill_down_cost_the_same_queries_whatever_the_size(county, client):
    client.force_login(county.office)
    inspection = reverse("ledgers:inspection", args=[county.orgs["K"].pk, H1.slug])
    unsigned = reverse("ledgers:unsigned", args=[county.orgs["T1"].pk, H1.slug])
    small = _queries(client, inspection), _queries(client, unsigned + "?kind=orgs")
    small_members = _queries(client, unsigned)
    add_committee(county, "T3", {"B31": 4, "B32": 3, "B33": 2})
    add_committee(county, "T4", {"B41": 5})
    for n in range(4):
        county.members[f"B12-x{n}"] = make_member(county.orgs["B12"], f"党员B12加{n}")
    county.orgs["B13"] = make_org("B13", OrgKind.BRANCH, county.orgs["T1"], name="B13党支部")
    sign_member(county, "B31-0")
    sign_org(county, "B31")
    assert _rows(county)["T3"] == (9, 1, 3, 1)
    large = _queries(client, inspection), _queries(client, unsigned + "?kind=orgs")
    assert large == small
    assert _queries(client, unsigned) == small_members
    # session and user, the grants, the organisation, whether it holds a 基层党委, then the
    # inspection's three (the committees, the members by organisation, the organisations)
    assert small[0] <= 8, small
    # the drill-down: as above with the grants again for the way back and the page's count
    # and rows
    assert small_members <= 9, small_members


# ---------------------------------------------------------------- verify


def _forge(signature: Signature, payload: str) -> None:
    """Change a stored snapshot behind the services' back, past the trigger that refuses it (on
    SQLite dropped inside the test's transaction, so the rollback puts it back; on PostgreSQL
    switched off for this transaction)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
                ["ledgers_signature"],
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f'DROP TRIGGER "{name}"')
        else:
            cursor.execute("SET LOCAL session_replication_role = replica")
        Signature.objects.filter(pk=signature.pk).update(payload=payload)
        if connection.vendor != "sqlite":
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")


def test_the_verify_page_finds_an_untouched_ledger_consistent_and_lists_its_signers(county, client):
    ledger = _ledger(county, "B11-0")
    client.force_login(county.office)
    response = client.get(reverse("ledgers:verify", args=[ledger.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "一致" in page and "不一致" not in page
    assert ledger.short_hash and ledger.short_hash in page
    assert page.count("<tr>") - 1 == 6  # six signatures, the header row apart
    assert "党员B11之0" in page and "纸质写实簿签字" in page  # the member, on paper
    assert "书记B11" in page and "党支部书记" in page
    assert "第一季度领导点评" in page


def test_the_verify_page_finds_a_forged_snapshot(county, client):
    ledger = _ledger(county, "B11-0")
    signature = Signature.objects.filter(ledger=ledger).order_by("seq")[2]
    forged = signature.payload.replace("本期无此记录", "本期成绩突出")
    assert forged != signature.payload
    with pytest.raises(DatabaseError), transaction.atomic():  # the trigger, while it is there
        Signature.objects.filter(pk=signature.pk).update(payload=forged)
    _forge(signature, forged)
    client.force_login(county.office)
    page = client.get(reverse("ledgers:verify", args=[ledger.pk])).content.decode()
    assert "不一致" in page
    assert f"第{signature.seq}次签字" in page and "内容已被改动" in page


def test_the_verify_page_tells_whether_the_printed_hash_is_the_current_one(county, client):
    ledger = _ledger(county, "B11-0")
    client.force_login(county.office)
    url = reverse("ledgers:verify", args=[ledger.pk])
    assert "与当前记录相同" in client.get(f"{url}?h={ledger.short_hash}").content.decode()
    assert "与当前记录不同" in client.get(f"{url}?h=0123456789ab").content.decode()


def test_the_verify_page_is_404_outside_the_scope(county, client):
    ledger = _ledger(county, "B11-0")
    url = reverse("ledgers:verify", args=[ledger.pk])
    for user, status in (
        (county.secretaries["B11"], 200),
        (county.secretaries["T1"], 200),
        (county.secretaries["B12"], 404),  # a sibling branch
        (county.secretaries["T2"], 404),
    ):
        client.force_login(user)
        assert client.get(url).status_code == status, user.username
    client.logout()
    assert client.get(url).status_code == 302  # to the login page


# ---------------------------------------------------------------- PDFs


def pdf_text(content: bytes) -> str:
    found = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=content, capture_output=True, check=True
    )
    return found.stdout.decode()


def pdf_pages(content: bytes) -> int:
    return pdf_text(content).count("\f")


def test_a_member_ledger_prints_as_a_pdf_with_its_signers(county, client):
    member = county.members["B11-0"]
    client.force_login(county.secretaries["B11"])
    response = client.get(reverse("ledgers:member_pdf", args=[member.pk, YEAR]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    disposition = response["Content-Disposition"]
    assert f'filename="ledger-{YEAR}-member-{member.pk}.pdf"' in disposition
    assert "filename*=UTF-8''2026-" in disposition and disposition.isascii()
    text = pdf_text(response.content)
    assert member.name in text and "书记B11" in text
    assert _ledger(county, "B11-0").short_hash in text


def test_an_organisation_ledger_prints_as_a_pdf(county, client):
    org = county.orgs["B11"]
    client.force_login(county.secretaries["T1"])
    response = client.get(reverse("ledgers:org_pdf", args=[org.pk, YEAR]))
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    assert "B11党支部" in text and "书记T1" in text and "书记B11" in text


def test_a_ledger_pdf_outside_the_scope_is_404(county, client):
    client.force_login(county.secretaries["B12"])
    member = county.members["B11-0"]
    assert client.get(reverse("ledgers:member_pdf", args=[member.pk, YEAR])).status_code == 404
    client.force_login(county.secretaries["T2"])
    url = reverse("ledgers:org_pdf", args=[county.orgs["B11"].pk, YEAR])
    assert client.get(url).status_code == 404


def test_a_signed_review_prints_as_its_form_alone_and_in_the_periods_batch(world, client):
    review = world.extra["rm"]  # own's signed review of m1, 2026Q3
    client.force_login(world.user("own_branch_secretary"))
    response = client.get(reverse("ledgers:review_pdf", args=[review.pk]))
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    assert "点评意见表" in text and "李一" in text and "带头走访群众" in text
    batch = client.get(reverse("ledgers:reviews_pdf", args=[world.orgs["B1"].pk, "2026Q3"]))
    assert batch["Content-Type"] == "application/pdf"
    assert "李一" in pdf_text(batch.content)
    # a period without a signed review says so on a page
    empty = client.get(reverse("ledgers:reviews_pdf", args=[world.orgs["B1"].pk, "2026Q1"]))
    assert empty.status_code == 200 and "没有已签字的领导点评" in empty.content.decode()


def test_a_draft_review_is_not_printed(world, client):
    client.force_login(world.user("parent_committee_secretary"))
    draft = world.extra["ro"]
    assert client.get(reverse("ledgers:review_pdf", args=[draft.pk])).status_code == 404


def test_the_secretary_letter_prints_as_its_form(world, client):
    letter = world.extra["sp"]
    client.force_login(world.user("parent_committee_secretary"))
    response = client.get(reverse("ledgers:letter_pdf", args=[letter.pk]))
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    assert "公开承诺书" in text and letter.member.name in text
    client.force_login(world.user("office_outside"))
    assert client.get(reverse("ledgers:letter_pdf", args=[letter.pk])).status_code == 404


# ---------------------------------------------------------------- batch print


def _start(client, org, what, form):
    url = reverse("ledgers:batch", args=[org.pk, YEAR])
    return client.post(url, {"what": what, "form": form})


def _result(job: Job) -> bytes:
    job.refresh_from_db()
    assert job.state == JobState.DONE, job.error
    with job.result.open("rb") as stream:
        return stream.read()


def test_a_branch_prints_as_one_pdf_and_as_a_zip_in_the_background(county, client, monkeypatch):
    monkeypatch.setattr(ledger_jobs, "CHUNK", 2)  # three ledgers: two chunks laid out apart
    client.force_login(county.secretaries["B11"])
    response = _start(client, county.orgs["B11"], "members", "pdf")
    job = Job.objects.get(kind=ledger_jobs.BATCH)
    assert response.status_code == 302
    assert response["Location"] == reverse("jobs:detail", args=[job.pk])
    assert org_jobs.run(job.pk) == "done"
    content = _result(job)
    assert content.startswith(b"%PDF") and job.result_name == "2026-B11党支部-党员写实簿.pdf"
    grid = reverse("ledgers:branch", args=[county.orgs["B11"].pk, YEAR])
    assert org_jobs.job_link(job) == ("返回B11党支部2026年写实簿", grid)
    text = pdf_text(content)
    names = [f"党员B11之{n}" for n in range(3)]
    assert all(name in text for name in names)
    assert text.index(names[0]) < text.index(names[1]) < text.index(names[2])  # by name
    _start(client, county.orgs["B11"], "members", "zip")  # the first is done: not busy
    second = Job.objects.filter(kind=ledger_jobs.BATCH).latest("pk")
    assert org_jobs.run(second.pk) == "done"
    archive = zipfile.ZipFile(io.BytesIO(_result(second)))
    members = [county.members[f"B11-{n}"] for n in range(3)]
    assert archive.namelist() == [f"2026-{m.name}-{m.pk}.pdf" for m in members]
    # the one PDF holds every page of the single ones, none lost where the chunks meet
    assert pdf_pages(content) == sum(pdf_pages(archive.read(n)) for n in archive.namelist())
    assert "书记B11" in pdf_text(archive.read(archive.namelist()[0]))
    second.refresh_from_db()
    assert (second.done, second.total) == (3, 3)


def test_a_committees_children_print_as_a_zip_of_one_pdf_each(county, client):
    client.force_login(county.secretaries["T1"])
    _start(client, county.orgs["T1"], "orgs", "zip")
    job = Job.objects.get(kind=ledger_jobs.BATCH)
    assert org_jobs.run(job.pk) == "done"
    archive = zipfile.ZipFile(io.BytesIO(_result(job)))
    b11, b12 = county.orgs["B11"], county.orgs["B12"]
    assert sorted(archive.namelist()) == sorted(
        [f"2026-B11党支部-{b11.pk}.pdf", f"2026-B12党支部-{b12.pk}.pdf"]
    )
    assert "书记T1" in pdf_text(archive.read(f"2026-B11党支部-{b11.pk}.pdf"))
    job.refresh_from_db()
    assert (job.done, job.total) == (2, 2)


def test_a_second_batch_for_the_same_ledgers_waits_for_the_first(county, client):
    client.force_login(county.secretaries["B11"])
    _start(client, county.orgs["B11"], "members", "pdf")
    again = _start(client, county.orgs["B11"], "members", "zip")
    assert again.status_code == 200
    assert "正在后台打印" in again.content.decode()
    assert Job.objects.filter(kind=ledger_jobs.BATCH).count() == 1


def test_the_job_checks_the_right_again_when_it_runs(county, client):
    secretary = county.secretaries["B11"]
    client.force_login(secretary)
    _start(client, county.orgs["B11"], "members", "pdf")
    job = Job.objects.get(kind=ledger_jobs.BATCH)
    org_services.role_revoke(by=None, user=secretary, org=county.orgs["B11"], role=Role.SECRETARY)
    assert org_jobs.run(job.pk) == "failed"
    job.refresh_from_db()
    assert "没有批量打印" in job.error and not job.result


def test_only_the_keepers_secretary_or_the_office_starts_a_batch(county, client):
    b11 = county.orgs["B11"]
    url = reverse("ledgers:batch", args=[b11.pk, YEAR])
    client.force_login(county.office)
    assert client.get(url).status_code == 200
    client.force_login(county.secretaries["T1"])  # reads B11, does not keep its ledgers
    assert client.post(url, {"what": "members", "form": "pdf"}).status_code == 403
    client.force_login(county.secretaries["B12"])
    assert client.post(url, {"what": "members", "form": "pdf"}).status_code == 404
    assert not Job.objects.filter(kind=ledger_jobs.BATCH).exists()


def test_a_branch_has_no_childrens_batch(county, client):
    client.force_login(county.secretaries["B11"])
    response = _start(client, county.orgs["B11"], "orgs", "pdf")
    assert response.status_code == 200
    assert not Job.objects.filter(kind=ledger_jobs.BATCH).exists()
