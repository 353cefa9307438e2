"""报送 (reports/submissions.py, reports/views_submissions.py, reports/obligations.py): frozen
snapshots, versions after a return, the refusals, the attachments' checks, the parent's page
with its comparison, the obligation behind the reminders, and the scope.

The county below is built by hand and its figures are written straight into the kept figure
tables, so every number is known:

    XP 省委 ── XC 市委 ── XK 县委 (office: office-k; secretary: sec-k)
                            ├── XJ 机关党支部            (a branch: does not report)
                            ├── T1 镇党委 (office-t1, sec-t1) ── B11, B12 党支部
                            └── T2 镇党委 (sec-t2)             ── B21 党支部 (office-b21: reports to T2)
               XC ── XK2 县委 (office-out)
"""

from __future__ import annotations

import datetime
import hashlib
import io
import zipfile
from dataclasses import dataclass, field

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from ledgers.models import LedgerFigure
from orgs.deadlines import deadline_set
from orgs.models import OrgKind, Role
from orgs.periods import Period
from pledges.models import PledgeFigure
from reports import obligations, submissions
from reports.models import FrozenError, Submission, SubmissionAttachment, SubmissionReturn
from reviews.appraisal.models import AppraisalFigure
from reviews.models import ReviewFigure
from tests.personas import make_org, make_user

Q3 = Period.quarter(2026, 3)
BEFORE_DUE = datetime.date(2026, 10, 10)  # the default date of Q3 is 16 October
AFTER_DUE = datetime.date(2026, 10, 20)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n%%EOF\n"
JPG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


@dataclass
class County:
    orgs: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)

    def user(self, name):
        return get_user_model().objects.get(username=name)


def _figure(model, org, period: str, **values):
    model.objects.update_or_create(
        org=org, period=period, defaults={"computed_at": timezone.now(), **values}
    )


@pytest.fixture
def county(db, settings) -> County:
    # The figures here are written by hand: the organisations' own refresh is left queued on a
    # commit that never comes, so no compute function rewrites them.
    settings.FIGURES_IMMEDIATE = False
    c = County()
    o = c.orgs
    o["P"] = make_org("XP", OrgKind.PROVINCE, name="某省委")
    o["C"] = make_org("XC", OrgKind.CITY, o["P"], name="某市委")
    o["K"] = make_org("XK", OrgKind.COUNTY, o["C"], name="某县委")
    o["J"] = make_org("XJ", OrgKind.BRANCH, o["K"], name="县委机关党支部")
    o["T1"] = make_org("XT1", OrgKind.COMMITTEE, o["K"], name="东镇党委")
    o["B11"] = make_org("XB11", OrgKind.BRANCH, o["T1"], name="东一村党支部")
    o["B12"] = make_org("XB12", OrgKind.BRANCH, o["T1"], name="东二村党支部")
    o["T2"] = make_org("XT2", OrgKind.COMMITTEE, o["K"], name="西镇党委")
    o["B21"] = make_org("XB21", OrgKind.BRANCH, o["T2"], name="西一村党支部")
    o["K2"] = make_org("XK2", OrgKind.COUNTY, o["C"], name="另一县委")
    for name, role, org in (
        ("office-k", Role.OFFICE, "K"),
        ("sec-k", Role.SECRETARY, "K"),
        ("office-t1", Role.OFFICE, "T1"),
        ("sec-t1", Role.SECRETARY, "T1"),
        ("sec-t2", Role.SECRETARY, "T2"),
        ("sec-b11", Role.SECRETARY, "B11"),
        ("office-b21", Role.OFFICE, "B21"),
        ("member-t1", Role.MEMBER, "T1"),
        ("office-out", Role.OFFICE, "K2"),
    ):
        make_user(name, role, o[org])
    for org in o.values():
        org.refresh_from_db()
    # The figures, written after the organisations (whose creation refreshes theirs).
    _figure(ReviewFigure, o["B11"], "2026Q3", members_owed=10, members_reviewed=8, by_central=3)
    _figure(ReviewFigure, o["B12"], "2026Q3", members_owed=5, members_reviewed=5)
    _figure(ReviewFigure, o["T1"], "2026Q3", orgs_owed=2, orgs_reviewed=1)
    _figure(ReviewFigure, o["B21"], "2026Q3", members_owed=3, members_reviewed=1)
    _figure(PledgeFigure, o["B11"], "2026Y1", members_owed=10, members_pledged=9, items=12)
    _figure(AppraisalFigure, o["B12"], "2026Y1", sessions_owed=1, sessions_held=1)
    _figure(LedgerFigure, o["B11"], "2026H2", member_owed=10, member_open=7)
    return c


def _submit(county, who="office-t1", org="T1", today=BEFORE_DUE, **kwargs) -> Submission:
    return submissions.submission_create(
        by=county.user(who), org=county.orgs[org], period=Q3, today=today, **kwargs
    )


def _refusal(error: ValidationError) -> str:
    return "；".join(error.messages)


# ---------------------------------------------------------------- the snapshot


def test_a_submission_freezes_the_four_tables_with_their_periods(county):
    submission = _submit(county, report_text="总体情况良好。\r\n典型事例：……")
    o = county.orgs
    figures = submission.figures
    assert {k: figures[k]["period"] for k in figures} == {
        "reviews": "2026Q3",
        "pledges": "2026Y1",
        "appraisal": "2026Y1",
        "ledgers": "2026H2",
    }
    reviews = figures["reviews"]
    assert [(r["org_id"], r["name"]) for r in reviews["rows"]] == [
        (o["B11"].pk, "东一村党支部"),
        (o["B12"].pk, "东二村党支部"),
    ]
    assert reviews["rows"][0]["figures"]["members_reviewed"] == 8
    assert reviews["own"]["orgs_owed"] == 2
    assert reviews["total"]["members_owed"] == 15 and reviews["total"]["members_reviewed"] == 13
    assert reviews["total"]["orgs_reviewed"] == 1 and reviews["as_of"]
    assert "members_owed" in reviews["columns"]
    assert figures["ledgers"]["total"]["member_open"] == 7
    assert figures["pledges"]["total"]["items"] == 12
    canonical = submissions.canonical_json(submission.figures)
    assert submission.digest == hashlib.sha256(canonical).hexdigest()
    assert (submission.version, submission.due_date, submission.is_late) == (
        1,
        datetime.date(2026, 10, 16),
        False,
    )
    assert submission.submitted_by.username == "office-t1"
    assert submission.report_text == "总体情况良好。\n典型事例：……"
    assert submission.figures_as_of is not None


def test_the_snapshot_keeps_its_figures_when_the_live_ones_change(county, client):
    submission = _submit(county)
    _figure(ReviewFigure, county.orgs["B11"], "2026Q3", members_owed=10, members_reviewed=2)
    submission.refresh_from_db()
    assert submission.figures["reviews"]["rows"][0]["figures"]["members_reviewed"] == 8
    assert submission.figures["reviews"]["total"]["members_reviewed"] == 13
    assert submissions.digest_of(submission.figures) == submission.digest
    client.force_login(county.user("office-k"))
    page = client.get(reverse("reports:submission_detail", args=[submission.pk]))
    tables = submissions.frozen_tables(figures=page.context["submission"].figures)
    cells = {c.col.key: c.value for c in tables[0].rows[0].cells}
    assert cells["members_reviewed"] == 8 and cells["members_rate"] == pytest.approx(0.8)
    assert page.context["digest_ok"] is True


def test_a_submission_and_its_rows_never_change(county):
    submission = _submit(county, files=[SimpleUploadedFile("a.png", PNG)])
    submission.report_text = "改过的"
    with pytest.raises(FrozenError):
        submission.save()
    with pytest.raises(FrozenError):
        submission.delete()
    with pytest.raises(FrozenError):
        Submission.objects.filter(pk=submission.pk).update(report_text="改过的")
    with pytest.raises(FrozenError):
        Submission.objects.filter(pk=submission.pk).delete()
    attachment = submission.attachments.get()
    attachment.name = "b.png"
    with pytest.raises(FrozenError):
        attachment.save()
    with pytest.raises(FrozenError):
        SubmissionAttachment.objects.all().delete()
    returned = submissions.submission_return(
        by=county.user("office-k"), submission=submission, reason="数字有误"
    )
    returned.reason = "另一个理由"
    with pytest.raises(FrozenError):
        returned.save()
    with pytest.raises(FrozenError):
        returned.delete()
    with pytest.raises(FrozenError):
        SubmissionReturn.objects.all().update(reason="x")
    fresh = Submission.objects.get(pk=submission.pk)
    assert fresh.report_text == "" and fresh.return_row.reason == "数字有误"


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE reports_submission SET report_text = 'x'",
        "UPDATE reports_submission SET figures = '{}', digest = ''",
        "UPDATE reports_submissionattachment SET name = 'b.png'",
        "UPDATE reports_submissionreturn SET reason = 'x'",
    ],
)
def test_the_database_refuses_a_change_to_a_submission_on_every_path(county, sql):
    """Raw SQL, past the models: the triggers of migration reports 0002 refuse it."""
    submission = _submit(county, files=[SimpleUploadedFile("a.png", PNG)])
    submissions.submission_return(by=county.user("office-k"), submission=submission, reason="有误")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    assert Submission.objects.get(pk=submission.pk).digest == submission.digest


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite's flush deletes rows")
@pytest.mark.parametrize(
    "table", ["reports_submission", "reports_submissionattachment", "reports_submissionreturn"]
)
def test_postgresql_refuses_deleting_a_submission_by_sql(county, table):
    submission = _submit(county, files=[SimpleUploadedFile("a.png", PNG)])
    submissions.submission_return(by=county.user("office-k"), submission=submission, reason="有误")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")
    assert Submission.objects.filter(pk=submission.pk).exists()


def test_the_admin_reads_submissions_and_changes_nothing(county, client):
    submission = _submit(county, files=[SimpleUploadedFile("a.png", PNG)])
    submissions.submission_return(by=county.user("office-k"), submission=submission, reason="退")
    get_user_model().objects.create_superuser("root", password="pw-123456")
    client.login(username="root", password="pw-123456")
    for model, pk in (
        ("submission", submission.pk),
        ("submissionattachment", submission.attachments.get().pk),
        ("submissionreturn", submission.return_row.pk),
    ):
        changelist = reverse(f"admin:reports_{model}_changelist")
        assert client.get(changelist).status_code == 200
        change = reverse(f"admin:reports_{model}_change", args=[pk])
        assert client.get(change).status_code == 200  # a view-only page
        assert client.post(change, {"report_text": "改", "reason": "改"}).status_code == 403
        delete = reverse(f"admin:reports_{model}_delete", args=[pk])
        assert client.post(delete, {"post": "yes"}).status_code == 403
        assert client.get(reverse(f"admin:reports_{model}_add")).status_code == 403
        response = client.post(
            changelist, {"action": "delete_selected", "_selected_action": [pk], "post": "yes"}
        )
        assert response.status_code in (200, 302)
    fresh = Submission.objects.get(pk=submission.pk)
    assert fresh.report_text == "" and fresh.attachments.count() == 1
    assert fresh.return_row.reason == "退"


# ---------------------------------------------------------------- versions and refusals


def test_a_second_submission_waits_for_a_return_and_every_version_stays(county):
    first = _submit(county)
    with pytest.raises(ValidationError) as refused:
        _submit(county, who="sec-t1")
    assert "已报送2026年第三季度统计报表（第1版" in _refusal(refused.value)
    submissions.submission_return(by=county.user("office-k"), submission=first, reason="漏报")
    second = _submit(county, who="sec-t1", report_text="已更正")
    assert second.version == 2
    with pytest.raises(ValidationError):
        _submit(county)
    versions = submissions.versions_of(org=county.orgs["T1"], period=Q3.slug)
    assert [(v.version, v.is_returned) for v in versions] == [(1, True), (2, False)]


def test_only_the_latest_version_is_returned_and_only_once(county):
    first = _submit(county)
    office = county.user("office-k")
    submissions.submission_return(by=office, submission=first, reason="漏报")
    with pytest.raises(ValidationError) as again:
        submissions.submission_return(by=office, submission=first, reason="再退")
    assert "已经退回" in _refusal(again.value)
    _submit(county)
    first = Submission.objects.get(pk=first.pk)
    with pytest.raises(ValidationError):
        submissions.submission_return(by=office, submission=first, reason="再退")
    assert SubmissionReturn.objects.count() == 1


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "请填写退回理由"),
        ("   ", "请填写退回理由"),
        ("理由\x07", "控制字符"),
        ("长" * 501, "最多 500 字"),
    ],
)
def test_a_return_needs_a_clean_reason(county, reason, message):
    submission = _submit(county)
    with pytest.raises(ValidationError) as refused:
        submissions.submission_return(
            by=county.user("office-k"), submission=submission, reason=reason
        )
    assert message in _refusal(refused.value)
    assert not SubmissionReturn.objects.exists()


@pytest.mark.parametrize(
    ("who", "allowed"),
    [("office-k", True), ("sec-k", True), ("office-t1", False), ("sec-t1", False)],
)
def test_the_parent_returns_a_report(county, who, allowed):
    submission = _submit(county)
    if allowed:
        submissions.submission_return(by=county.user(who), submission=submission, reason="退")
        assert Submission.objects.get(pk=submission.pk).is_returned
    else:
        with pytest.raises(ValidationError):
            submissions.submission_return(by=county.user(who), submission=submission, reason="退")


@pytest.mark.parametrize(
    ("who", "org", "message"),
    [
        (
            "office-k",
            "T1",
            "只有东镇党委的活动办公室工作人员或书记",
        ),  # a role above reports its own
        ("sec-b11", "B11", "不需向上级报送"),  # a branch reports through its committee
        ("sec-k", "J", "只有县委机关党支部"),
    ],
)
def test_who_submits(county, who, org, message):
    with pytest.raises(ValidationError) as refused:
        _submit(county, who=who, org=org)
    assert message in _refusal(refused.value)
    assert not Submission.objects.exists()


def test_an_organisation_with_office_staff_reports_whatever_its_kind(county):
    submission = _submit(county, who="office-b21", org="B21")
    assert submission.figures["reviews"]["rows"] == []
    assert submission.figures["reviews"]["own"]["members_owed"] == 3


def test_a_quarter_not_begun_is_refused(county):
    with pytest.raises(ValidationError) as refused:
        _submit(county, today=datetime.date(2026, 6, 30))
    assert "尚未开始" in _refusal(refused.value)


def test_a_late_report_is_marked_and_the_office_moves_the_date(county):
    late = _submit(county, today=AFTER_DUE)
    assert late.is_late and late.due_date == datetime.date(2026, 10, 16)
    deadline_set(
        by=county.user("office-k"),
        org=county.orgs["K"],
        kind="stats_report",
        period=Q3,
        due_on=datetime.date(2026, 10, 25),
        steps=[7, 1, -1],
    )
    second = _submit(county, who="sec-t2", org="T2", today=AFTER_DUE)
    assert not second.is_late and second.due_date == datetime.date(2026, 10, 25)


def test_two_tabs_at_once_end_in_a_message(county, monkeypatch):
    """Two submissions that both found no version: the second insert meets the unique
    (org, period, version) and is answered with a message, not an error page."""
    real = submissions.snapshot

    def meanwhile(*, org, quarter):
        Submission.objects.create(
            org=org,
            period=quarter.slug,
            version=1,
            due_date=BEFORE_DUE,
            figures={},
            digest="0" * 64,
            submitted_by=county.user("sec-t1"),
        )
        return real(org=org, quarter=quarter)

    monkeypatch.setattr(submissions, "snapshot", meanwhile)
    with pytest.raises(ValidationError) as refused:
        _submit(county)
    assert "已报送" in _refusal(refused.value) or "请刷新页面后重试" in _refusal(refused.value)
    assert not SubmissionAttachment.objects.exists()


# ---------------------------------------------------------------- what is typed and sent


def _docx(extra: dict | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
        for name, text in (extra or {}).items():
            z.writestr(name, text)
    return buffer.getvalue()


def _xlsx() -> bytes:
    from openpyxl import Workbook

    buffer = io.BytesIO()
    Workbook().save(buffer)
    return buffer.getvalue()


def _ole(stream: str) -> bytes:
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100 + stream.encode("utf-16-le")


def test_attachments_are_kept_checked_and_named_safely(county, client):
    files = [
        SimpleUploadedFile("../../etc/情况报告.PDF", PDF),
        SimpleUploadedFile("C:\\temp\\现场照片.jpeg", JPG),
        SimpleUploadedFile("汇总\u202e表.xlsx", _xlsx()),
        SimpleUploadedFile("典型事例.docx", _docx()),
        SimpleUploadedFile("旧表.doc", _ole("WordDocument")),
    ]
    submission = _submit(county, files=files)
    kept = list(submission.attachments.order_by("pk"))
    assert [a.name for a in kept] == [
        "情况报告.pdf",
        "现场照片.jpeg",
        "汇总表.xlsx",
        "典型事例.docx",
        "旧表.doc",
    ]
    assert kept[0].sha256 == hashlib.sha256(PDF).hexdigest() and kept[0].size == len(PDF)
    assert not any(".." in a.file.name or "etc" in a.file.name for a in kept)
    client.force_login(county.user("office-k"))
    response = client.get(reverse("reports:submission_attachment", args=[kept[0].pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Security-Policy"] == "sandbox"
    assert "attachment" in response["Content-Disposition"]
    xlsx = client.get(reverse("reports:submission_attachment", args=[kept[2].pk]))
    assert "spreadsheetml" in xlsx["Content-Type"]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([SimpleUploadedFile(f"p{i}.png", PNG) for i in range(6)], "附件最多 5 个"),
        ([SimpleUploadedFile("big.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024))], "超过 10 MB"),
        ([SimpleUploadedFile("empty.pdf", b"")], "空文件"),
        ([SimpleUploadedFile("setup.pdf", b"MZ\x90\x00" + b"\x00" * 60)], "不是允许的文件类型"),
        ([SimpleUploadedFile("page.png", b"<html><script>alert(1)</script>")], "不是允许的"),
        ([SimpleUploadedFile("photo.pdf", PNG)], "与扩展名“.pdf”不符"),
        ([SimpleUploadedFile("noext", PDF)], "与扩展名“（无）”不符"),
        ([SimpleUploadedFile("宏.docx", _docx({"word/vbaProject.bin": "x"}))], "含有宏"),
        ([SimpleUploadedFile("宏.doc", _ole("WordDocument_VBA_PROJECT"))], "含有宏"),
        ([SimpleUploadedFile("a.zip.docx", _docx().replace(b"word/", b"data/"))], "不是允许的"),
        ([SimpleUploadedFile("演示.doc", _ole("PowerPoint Document"))], "不是允许的"),
        ([SimpleUploadedFile("ok.png", PNG), SimpleUploadedFile("bad.png", b"GIF89a")], "bad.png"),
    ],
)
def test_hostile_attachments_are_refused_with_nothing_saved(county, files, message):
    with pytest.raises(ValidationError) as refused:
        _submit(county, files=files)
    assert message in _refusal(refused.value)
    assert not Submission.objects.exists() and not SubmissionAttachment.objects.exists()


def test_files_written_before_a_failure_are_removed(county, monkeypatch):
    storage = SubmissionAttachment._meta.get_field("file").storage
    written = []
    real_save = SubmissionAttachment.save

    def save(self, *args, **kwargs):
        written.append(self.file.name)
        if len(written) == 2:
            raise RuntimeError("disk full")
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(SubmissionAttachment, "save", save)
    with pytest.raises(RuntimeError):
        _submit(county, files=[SimpleUploadedFile("a.png", PNG), SimpleUploadedFile("b.pdf", PDF)])
    assert len(written) == 2 and not any(storage.exists(name) for name in written)
    assert not Submission.objects.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("情况\x00报告", "空字符"),
        ("情况\x07报告", "U+0007"),
        ("情况\x1b[31m报告", "U+001B"),
        ("报告\u202e告报", "U+202E"),
        ("长" * (submissions.MAX_TEXT + 1), "最多 20000 字"),
    ],
)
def test_hostile_report_text_is_refused_with_nothing_saved(county, text, message):
    with pytest.raises(ValidationError) as refused:
        _submit(county, report_text=text, files=[SimpleUploadedFile("a.png", PNG)])
    assert message in _refusal(refused.value)
    assert not Submission.objects.exists() and not SubmissionAttachment.objects.exists()


def test_a_report_text_of_the_full_length_with_tabs_and_lines_is_kept(county):
    text = "一、总体情况\n\t" + "好" * (submissions.MAX_TEXT - 8)
    assert len(text) == submissions.MAX_TEXT
    assert _submit(county, report_text=text).report_text == text


# ---------------------------------------------------------------- the parent's page


def test_the_parent_sees_who_reported_and_the_differences(county, client):
    o = county.orgs
    t1 = _submit(county)
    t2 = _submit(county, who="sec-t2", org="T2", today=AFTER_DUE)
    submissions.submission_return(by=county.user("office-k"), submission=t2, reason="请补充")
    # after T1 reported, one more member of B11 was reviewed
    _figure(ReviewFigure, o["B11"], "2026Q3", members_owed=10, members_reviewed=9, by_central=3)
    client.force_login(county.user("office-k"))
    response = client.get(reverse("reports:submission_children", args=[o["K"].pk, Q3.slug]))
    assert response.status_code == 200
    statuses = response.context["statuses"]
    assert [s.org.code for s in statuses] == ["XT1", "XT2"]  # not the 机关党支部
    assert [(s.is_done, s.is_returned) for s in statuses] == [(True, False), (False, True)]
    assert statuses[0].current.pk == t1.pk
    reviews = response.context["tables"][0]
    assert reviews.spec.key == "reviews"
    t1_row = reviews.rows[0]
    changed = [(c.col.key, c.submitted, c.live, c.delta) for c in t1_row.cells if c.differs]
    assert changed == [("members_reviewed", 13, 14, 1)]
    assert reviews.differences == 1 and t1_row.differences == 1
    total = {c.col.key: c for c in reviews.total.cells}
    assert (total["members_reviewed"].submitted, total["members_reviewed"].live) == (13, 14)
    assert all(c.submitted is None for c in reviews.rows[1].cells)  # T2's was returned
    page = response.content.decode()
    assert "1 处不一致" in page and "（+1）" in page and "请补充" in page
    assert reverse("reports:submission_return", args=[t1.pk]) in page
    assert "县委机关党支部" not in page
    # the page is the same for a county secretary, without the office role
    client.force_login(county.user("sec-k"))
    assert (
        client.get(reverse("reports:submission_children", args=[o["K"].pk, Q3.slug])).status_code
        == 200
    )


def test_a_parent_without_reporting_children_says_so(county, client):
    client.force_login(county.user("sec-t1"))
    response = client.get(
        reverse("reports:submission_children", args=[county.orgs["T1"].pk, Q3.slug])
    )
    assert (
        response.status_code == 200
        and "没有需要向它报送统计表的下级组织" in response.content.decode()
    )


def test_the_obligation_gaps_are_the_missing_of_the_parents_page(county, client):
    o = county.orgs
    k_children = {o["T1"].pk, o["T2"].pk, o["J"].pk}

    def gaps(ids=None):
        return {g.org_id: g for g in obligations.report_gaps(Q3, ids)}

    def missing_on_page():
        client.force_login(county.user("office-k"))
        response = client.get(reverse("reports:submission_children", args=[o["K"].pk, Q3.slug]))
        return {s.org.pk for s in response.context["missing"]}

    assert set(gaps()) >= {o["T1"].pk, o["T2"].pk, o["B21"].pk, o["K"].pk}
    assert o["J"].pk not in gaps() and o["B11"].pk not in gaps() and o["P"].pk not in gaps()
    assert set(gaps(k_children)) == missing_on_page() == {o["T1"].pk, o["T2"].pk}
    t1 = _submit(county)
    assert set(gaps(k_children)) == missing_on_page() == {o["T2"].pk}
    submissions.submission_return(by=county.user("office-k"), submission=t1, reason="漏报")
    found = gaps(k_children)
    assert set(found) == missing_on_page() == {o["T1"].pk, o["T2"].pk}
    assert "退回" in found[o["T1"].pk].text and "未报送" in found[o["T2"].pk].text
    assert found[o["T1"].pk].url == reverse(
        "reports:submission_submit", args=[o["T1"].pk, "2026Q3"]
    )
    assert list(obligations.report_gaps(Q3, set())) == []


def test_the_reminders_chase_the_report(county):
    from orgs.deadlines import deadline_kind

    kind = deadline_kind("stats_report")
    assert kind.gaps is obligations.report_gaps
    assert set(kind.roles) == {Role.OFFICE, Role.SECRETARY, Role.DEPUTY}


def test_the_parents_page_costs_the_same_whatever_the_county(
    county, client, django_assert_max_num_queries
):
    url = reverse("reports:submission_children", args=[county.orgs["K"].pk, Q3.slug])
    client.force_login(county.user("office-k"))
    _submit(county)
    client.get(url)  # the year's calendar is written once
    # session and user (2), grants (1), the organisation (1), the children (1), their
    # submissions (1), the calendar (1), four tables × three (12)
    with django_assert_max_num_queries(19):
        assert client.get(url).status_code == 200
    for n in range(6):
        town = make_org(f"XT{n + 3}", OrgKind.COMMITTEE, county.orgs["K"], name=f"新镇{n}党委")
        make_org(f"XB{n + 3}", OrgKind.BRANCH, town, name=f"新村{n}党支部")
        sec = make_user(f"sec-x{n}", Role.SECRETARY, town)
        town.refresh_from_db()
        if n % 2:
            submissions.submission_create(by=sec, org=town, period=Q3, today=BEFORE_DUE)
    with django_assert_max_num_queries(19):
        response = client.get(url)
    assert len(response.context["statuses"]) == 8


# ---------------------------------------------------------------- the pages


def test_submitting_through_the_page(county, client):
    client.force_login(county.user("office-t1"))
    url = reverse("reports:submission_submit", args=[county.orgs["T1"].pk, Q3.slug])
    page = client.get(url)
    assert page.status_code == 200
    assert [t.spec.key for t in page.context["tables"]] == [
        "reviews",
        "pledges",
        "appraisal",
        "ledgers",
    ]
    assert "东一村党支部" in page.content.decode()
    response = client.post(
        url,
        {"report_text": "总体情况：……", "files": [SimpleUploadedFile("表.png", PNG)]},
    )
    submission = Submission.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("reports:submission_detail", args=[submission.pk])
    assert submission.attachments.get().name == "表.png"
    again = client.post(url, {"report_text": "第二个标签页"})
    assert again.status_code == 200 and "已报送" in again.content.decode()
    assert Submission.objects.count() == 1
    detail = client.get(response["Location"]).content.decode()
    assert "总体情况：……" in detail and "表.png" in detail and "校验一致" in detail


def test_a_refused_file_keeps_the_text_and_saves_nothing(county, client):
    client.force_login(county.user("sec-t1"))
    url = reverse("reports:submission_submit", args=[county.orgs["T1"].pk, Q3.slug])
    response = client.post(
        url, {"report_text": "我写的报告", "files": [SimpleUploadedFile("病毒.pdf", b"MZ\x90")]}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "不是允许的文件类型" in page and "我写的报告" in page
    assert not Submission.objects.exists()


def test_returning_through_the_page_and_the_history(county, client):
    submission = _submit(county)
    client.force_login(county.user("office-k"))
    url = reverse("reports:submission_return", args=[submission.pk])
    confirm = client.get(url)
    assert confirm.status_code == 200 and "确认退回" in confirm.content.decode()
    empty = client.post(url, {"reason": ""})
    assert empty.status_code == 200 and "请填写退回理由" in empty.content.decode()
    assert not Submission.objects.get(pk=submission.pk).is_returned
    response = client.post(url, {"reason": "第二行数字有误"})
    assert response.status_code == 302
    assert Submission.objects.get(pk=submission.pk).return_row.reason == "第二行数字有误"
    second = _submit(county, who="sec-t1")
    client.force_login(county.user("office-t1"))
    page = client.get(reverse("reports:submission_detail", args=[second.pk])).content.decode()
    assert "第1版" in page and "第二行数字有误" in page and "第2版" in page
    old = client.get(reverse("reports:submission_detail", args=[submission.pk])).content.decode()
    assert "已有更新的版本" in old
    client.force_login(county.user("office-k"))
    stale = client.get(reverse("reports:submission_return", args=[submission.pk]))
    assert "已经退回" in stale.content.decode()


def test_the_organisation_page_lists_its_quarters(county, client):
    _submit(county)
    client.force_login(county.user("office-t1"))
    page = client.get(reverse("reports:submissions", args=[county.orgs["T1"].pk]) + "?year=2026")
    assert page.status_code == 200
    lines = page.context["overview"].quarters
    assert [line.is_done for line in lines] == [False, False, True, False]
    assert lines[2].due_on == datetime.date(2026, 10, 16)
    client.force_login(county.user("office-k"))
    county_page = client.get(
        reverse("reports:submissions", args=[county.orgs["K"].pk]) + "?year=2026"
    )
    overview = county_page.context["overview"]
    assert overview.owes and overview.children == 2
    assert [line.children_done for line in overview.quarters] == [0, 0, 1, 0]
    client.force_login(county.user("sec-b11"))
    branch = client.get(reverse("reports:submissions", args=[county.orgs["B11"].pk]))
    assert "不需向上级报送统计表" in branch.content.decode()


def test_the_organisation_link_shows_where_there_is_something_to_report(county):
    o = county.orgs
    assert submissions.submission_links(county.user("office-k"), o["K"])
    assert submissions.submission_links(county.user("sec-t1"), o["T1"])
    assert submissions.submission_links(county.user("sec-b11"), o["B11"]) == []
    assert submissions.submission_links(county.user("member-t1"), o["T1"]) == []


# ---------------------------------------------------------------- scope


def test_outside_the_scope_every_submission_page_is_a_404(county, client):
    submission = _submit(county, files=[SimpleUploadedFile("a.png", PNG)])
    attachment = submission.attachments.get()
    o = county.orgs
    urls = [
        reverse("reports:submissions", args=[o["T1"].pk]),
        reverse("reports:submission_submit", args=[o["T1"].pk, Q3.slug]),
        reverse("reports:submission_children", args=[o["K"].pk, Q3.slug]),
        reverse("reports:submission_detail", args=[submission.pk]),
        reverse("reports:submission_return", args=[submission.pk]),
        reverse("reports:submission_attachment", args=[attachment.pk]),
    ]
    for who in ("office-out", "sec-b11", "sec-t2"):
        client.force_login(county.user(who))
        for url in urls:
            if who == "sec-t2" and "children" in url:
                continue  # T2 is under K, but K is above it: still outside (checked below)
            assert client.get(url).status_code == 404, (who, url)
            assert client.post(url).status_code in (404, 405), (who, url)
    client.force_login(county.user("sec-t2"))
    assert client.get(urls[2]).status_code == 404
    # a member of T1 sees T1 but not its statistics
    client.force_login(county.user("member-t1"))
    assert client.get(urls[3]).status_code == 403
    assert client.get(urls[5]).status_code == 403
    # inside, without the right to act
    client.force_login(county.user("office-k"))
    assert client.get(urls[1]).status_code == 403
    client.force_login(county.user("office-t1"))
    assert client.get(urls[4]).status_code == 403
    for bad in ("2026H1", "2026Q5", "xx", "1999Q1"):
        assert client.get(f"/reports/submissions/org/{o['T1'].pk}/{bad}/submit/").status_code == 404
    assert client.get("/reports/submissions/view/99999999/").status_code == 404
