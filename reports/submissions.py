"""报送: an organisation reports its statistics tables upward on the calendar's dates
(黑创先办[2010]11号 §4: a report — 总体情况、突出做法和典型事例 — and the 统计表, on fixed dates), and
the parent office reads, compares and returns them.

Who reports: an active organisation under an active parent that has a leading group's office of
its own — a 市(地)委, a 县(市、区)委 or a 基层党委 by kind, or any organisation where someone holds
the office role. Branches, general branches and groups report through their committee's table;
the province reports to nobody here. The same rule (`reporting_orgs`) lists the children on the
parent's page and answers the obligation behind the reminders (reports/obligations.py), so the
page's 未报送 and the reminders never disagree.

A report is for a quarter, the period of the calendar's `stats_report` deadline: the organisation's
four tables are frozen as they stand (领导点评 for the quarter, 写实簿 for its half-year, 公开承诺
and 民主评议 for its year), with the report text and attachments, as a `Submission` that never
changes. While the latest version is not returned a second one is refused; after a return the
next is version n+1, and every version stays.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import os
import re
import unicodedata
import uuid
import zipfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from orgs import figures as kept
from orgs.access import Action, can, object_id
from orgs.deadlines import calendars, deadline_for
from orgs.models import Organization, OrganizationUserObjectPermission, OrgKind, Role
from orgs.numbers import share
from orgs.periods import HALF, QUARTER, Period
from orgs.refusals import refuse
from reports.access import can_read_stats, can_return, can_submit
from reports.models import Submission, SubmissionAttachment, SubmissionReturn
from reports.tables import TABLES, Col, TableSpec, build

REPORT_KIND = "stats_report"
# kinds that keep a 创先争优活动领导小组 and its office, and so report upward by themselves
REPORTING_KINDS = (OrgKind.CITY, OrgKind.COUNTY, OrgKind.COMMITTEE)
MAX_TEXT = 20000  # the model's bound on 情况报告
MAX_REASON = 500  # the model's bound on 退回理由
MAX_ATTACHMENTS = 5
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_NAME = 100  # characters of a file name's stem kept for the download


def campaign_today() -> datetime.date:
    """Today in the campaign's time zone (Beijing), as the calendar's dates are."""
    return timezone.localdate(timezone=timezone.get_default_timezone())


# ---------------------------------------------------------------- who reports


def reporting_orgs() -> QuerySet[Organization]:
    """Every organisation that reports its tables to its parent (the rule in the module's
    docstring): one query, or a subquery of one."""
    office = OrganizationUserObjectPermission.objects.filter(
        permission__codename=Role.OFFICE.codename, user__is_active=True
    ).values("content_object_id")
    return Organization.objects.filter(
        Q(kind__in=REPORTING_KINDS) | Q(pk__in=office),
        is_active=True,
        parent__isnull=False,
        parent__is_active=True,
    )


def owes_report(org: Organization) -> bool:
    """Whether `org` reports its tables to its parent (one query)."""
    return reporting_orgs().filter(pk=org.pk).exists()


def reporting_children(parent: Organization) -> QuerySet[Organization]:
    """The children that report to `parent`, in tree order."""
    return reporting_orgs().filter(parent=parent).order_by("lft")


def report_period(slug: str) -> Period:
    """The quarter a URL names ('2026Q3'); 404 for anything else."""
    try:
        period = Period.parse(slug)
    except ValueError:
        raise Http404("报送期间有误。") from None
    if period.kind != QUARTER:
        raise Http404("报送期间有误。")
    return period


def table_period(spec: TableSpec, quarter: Period) -> Period:
    """The period of `spec`'s table that a report for `quarter` carries: the quarter itself, the
    half-year it falls in, or its year."""
    if spec.period_kind == QUARTER:
        return quarter
    if spec.period_kind == HALF:
        return Period.containing(quarter.start, HALF)
    return Period.whole_year(quarter.year)


# ---------------------------------------------------------------- the snapshot


def snapshot(*, org: Organization, quarter: Period) -> dict:
    """`org`'s four tables for a report of `quarter`, as JSON: for each table its period, the
    figure columns, each child's row (id, name, figures of its whole subtree), 本级, the total and
    the time of the figures. Twelve queries (three per table) whatever the subtree's size."""
    frozen = {}
    for spec in TABLES.values():
        columns = kept.source(spec.source).columns
        table = build(spec, org, table_period(spec, quarter))
        own = next((row.raw for row in table.rows if row.kind == "own"), {})
        frozen[spec.key] = {
            "title": spec.title,
            "period": table.period.slug,
            "columns": columns,
            "rows": [
                {"org_id": row.org.pk, "name": row.org.name, "figures": _ints(row.raw, columns)}
                for row in table.rows
                if row.kind == "child"
            ],
            "own": _ints(own, columns),
            "total": _ints(table.total.raw, columns),
            "as_of": table.as_of.isoformat() if table.as_of else None,
        }
    return frozen


def _ints(raw: dict, columns: list[str]) -> dict[str, int]:
    return {c: int(raw.get(c) or 0) for c in columns}


def canonical_json(figures: dict) -> bytes:
    """The one byte form of a snapshot that its digest is taken of."""
    return json.dumps(figures, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def digest_of(figures: dict) -> str:
    return hashlib.sha256(canonical_json(figures)).hexdigest()


def _as_of(figures: dict) -> datetime.datetime | None:
    stamps = [
        datetime.datetime.fromisoformat(table["as_of"])
        for table in figures.values()
        if table.get("as_of")
    ]
    return max(stamps) if stamps else None


# ---------------------------------------------------------------- what a user typed or sent

# Direction overrides, embeddings and isolates reorder what a reader sees of an official text.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean_text(text: str, *, field: str, label: str, limit: int, required: bool = False) -> str:
    """`text` with its line ends made \\n and its ends trimmed; refused when it holds NUL or
    another control character (tabs and line breaks aside), a direction override, or more than
    `limit` characters."""
    text = str(text or "").replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text:
        refuse(f"{label}中含有空字符（NUL），请删除后重新提交。", field)
    for char in text:
        if (unicodedata.category(char) in ("Cc", "Cs") and char not in "\n\t") or char in _BIDI:
            refuse(f"{label}中含有不可见的控制字符（U+{ord(char):04X}），请删除后重新提交。", field)
    text = text.strip()
    if required and not text:
        refuse(f"请填写{label}。", field)
    if len(text) > limit:
        refuse(f"{label}最多 {limit} 字，现为 {len(text)} 字。", field)
    return text


@dataclass(frozen=True)
class FileType:
    key: str
    label: str
    content_type: str
    extensions: tuple[str, ...]  # the first is the stored file's


FILE_TYPES = {
    t.key: t
    for t in (
        FileType("pdf", "PDF 文件", "application/pdf", (".pdf",)),
        FileType("doc", "Word 文档", "application/msword", (".doc",)),
        FileType(
            "docx",
            "Word 文档",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            (".docx",),
        ),
        FileType("xls", "Excel 表格", "application/vnd.ms-excel", (".xls",)),
        FileType(
            "xlsx",
            "Excel 表格",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            (".xlsx",),
        ),
        FileType("jpg", "JPG 图片", "image/jpeg", (".jpg", ".jpeg")),
        FileType("png", "PNG 图片", "image/png", (".png",)),
    )
}
ALLOWED_TEXT = "PDF、Word（doc、docx）、Excel（xls、xlsx）、JPG、PNG"
ACCEPT = ",".join(ext for t in FILE_TYPES.values() for ext in t.extensions)

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the compound file of .doc and .xls


def _utf16(name: str) -> bytes:
    return name.encode("utf-16-le")


class _Macro(Exception):
    pass


def sniff(data: bytes) -> FileType | None:
    """The type of a file by its content, never by its name or the browser's word: the magic
    bytes, and for the Office formats the part that makes a Word or an Excel file. A file with
    macros raises _Macro."""
    if data.startswith(b"%PDF-"):
        return FILE_TYPES["pdf"]
    if data.startswith(b"\xff\xd8\xff"):
        return FILE_TYPES["jpg"]
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return FILE_TYPES["png"]
    if data.startswith(_OLE):
        if _utf16("_VBA_PROJECT") in data or _utf16("Macros") in data:
            raise _Macro
        if _utf16("WordDocument") in data:
            return FILE_TYPES["doc"]
        if _utf16("Workbook") in data or _utf16("Book\x00") in data:
            return FILE_TYPES["xls"]
        return None
    if data.startswith(b"PK\x03\x04"):
        try:
            names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
        except (zipfile.BadZipFile, ValueError, OSError):
            return None
        if "[Content_Types].xml" not in names:
            return None
        if any(name.lower().endswith("vbaproject.bin") for name in names):
            raise _Macro
        if "word/document.xml" in names:
            return FILE_TYPES["docx"]
        if "xl/workbook.xml" in names:
            return FILE_TYPES["xlsx"]
    return None


_UNSAFE_NAME = re.compile(r'[<>:"|?*]')


def clean_file_name(name: str) -> str:
    """The name an attachment is downloaded as: the last part of what the browser sent, without
    control or invisible characters and the characters file systems refuse, at most MAX_NAME
    characters before its extension (lower-cased). The file is stored under a random name."""
    base = str(name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] not in ("C", "Z") or ch == " ")
    base = _UNSAFE_NAME.sub("_", base)
    stem, ext = os.path.splitext(base)
    stem = stem.strip(" .")[:MAX_NAME] or "附件"
    return stem + ext.lower()


@dataclass(frozen=True)
class CheckedFile:
    upload: object
    name: str
    type: FileType
    size: int
    sha256: str


def check_files(files: Iterable) -> list[CheckedFile]:
    """The uploads as they will be kept, or a refusal naming the first one that may not be."""
    files = [f for f in files if f is not None]
    if len(files) > MAX_ATTACHMENTS:
        refuse(f"附件最多 {MAX_ATTACHMENTS} 个，现选了 {len(files)} 个。", "files")
    checked = []
    for upload in files:
        name = clean_file_name(getattr(upload, "name", ""))
        size = int(getattr(upload, "size", 0) or 0)
        if size <= 0:
            refuse(f"“{name}”是空文件。", "files")
        if size > MAX_ATTACHMENT_BYTES:
            refuse(f"“{name}”超过 10 MB，请压缩后再上传。", "files")
        upload.seek(0)
        data = upload.read(MAX_ATTACHMENT_BYTES + 1)
        upload.seek(0)
        if len(data) > MAX_ATTACHMENT_BYTES:
            refuse(f"“{name}”超过 10 MB，请压缩后再上传。", "files")
        try:
            kind = sniff(data)
        except _Macro:
            refuse(f"“{name}”含有宏，请另存为不含宏的文档后再上传。", "files")
        if kind is None:
            refuse(f"“{name}”不是允许的文件类型，只能上传{ALLOWED_TEXT}。", "files")
        ext = os.path.splitext(name)[1]
        if ext not in kind.extensions:
            refuse(
                f"“{name}”的内容是{kind.label}，与扩展名“{ext or '（无）'}”不符，"
                f"请改为{kind.extensions[0]}后再上传。",
                "files",
            )
        checked.append(CheckedFile(upload, name, kind, len(data), hashlib.sha256(data).hexdigest()))
    return checked


def file_type_of(attachment: SubmissionAttachment) -> FileType:
    """The type an attachment was checked as (its kept name carries the checked extension)."""
    ext = os.path.splitext(attachment.name)[1].lower()
    for kind in FILE_TYPES.values():
        if ext in kind.extensions:
            return kind
    return FileType("bin", "文件", "application/octet-stream", (ext,))


# ---------------------------------------------------------------- services


def _already(latest: Submission) -> str:
    when = timezone.localtime(latest.submitted_at)
    return (
        f"已报送{Period.parse(latest.period).label}统计报表（第{latest.version}版，"
        f"{when:%Y-%m-%d %H:%M}），上级退回后才能再次报送。"
    )


def submission_create(
    *,
    by,
    org: Organization,
    period: Period,
    report_text: str = "",
    files: Iterable = (),
    today: datetime.date | None = None,
) -> Submission:
    """报送: freeze `org`'s four tables for the quarter `period` with the report and attachments,
    as the next version; refused while the latest version is not returned."""
    today = today or campaign_today()
    if not can_submit(by, org):
        refuse(f"只有{org.name}的活动办公室工作人员或书记可以报送统计表。")
    if not owes_report(org):
        refuse(f"{org.name}不需向上级报送统计表。")
    if period.kind != QUARTER:
        refuse("报送期间应为季度。", "period")
    if not period.has_begun(today):
        refuse(f"{period.label}尚未开始，不能报送。", "period")
    text = clean_text(report_text, field="report_text", label="情况报告", limit=MAX_TEXT)
    checked = check_files(files)
    due_on = deadline_for(org=org, kind=REPORT_KIND, period=period).due_on
    stored: list[str] = []
    try:
        with transaction.atomic():
            return _create(org, period, text, checked, due_on, today, by, stored)
    except IntegrityError:
        _forget_files(stored)
        latest = Submission.objects.filter(org=org, period=period.slug).order_by("-version").first()
        if latest is not None:
            refuse(_already(latest))
        refuse("报送没有成功，请刷新页面后重试。")
    except BaseException:
        _forget_files(stored)
        raise


def _create(org, period, text, checked, due_on, today, by, stored: list[str]) -> Submission:
    # Rows of this organisation and period are locked, so a return and a second tab's
    # submission wait for this one; two first submissions at once meet at the unique
    # (org, period, version), which the caller answers.
    versions = list(
        Submission.objects.select_for_update()
        .filter(org=org, period=period.slug)
        .order_by("-version")
        .values_list("pk", "version")
    )
    if versions:
        latest = Submission.objects.select_related("returned").get(pk=versions[0][0])
        if not latest.is_returned:
            refuse(_already(latest))
    figures = snapshot(org=org, quarter=period)
    submission = Submission.objects.create(
        org=org,
        period=period.slug,
        version=versions[0][1] + 1 if versions else 1,
        due_date=due_on,
        is_late=today > due_on,
        figures=figures,
        figures_as_of=_as_of(figures),
        report_text=text,
        digest=digest_of(figures),
        submitted_by=by,
    )
    for item in checked:
        attachment = SubmissionAttachment(
            submission=submission, name=item.name, size=item.size, sha256=item.sha256
        )
        item.upload.seek(0)
        attachment.file.save(
            f"{uuid.uuid4().hex}{item.type.extensions[0]}", item.upload, save=False
        )
        stored.append(attachment.file.name)
        attachment.save()
    return submission


def _forget_files(names: list[str]) -> None:
    """Remove the files of a submission that was not written."""
    storage = SubmissionAttachment._meta.get_field("file").storage
    for name in names:
        storage.delete(name)


def submission_return(*, by, submission: Submission, reason: str) -> SubmissionReturn:
    """退回: the parent sends the latest version back with a reason (kept as the return row);
    a version is returned once."""
    org = submission.org
    if not can_return(by, org):
        parent = org.parent.name if org.parent_id else "上级组织"
        refuse(f"只有{parent}的活动办公室工作人员或书记可以退回{org.name}的报送。")
    reason = clean_text(reason, field="reason", label="退回理由", limit=MAX_REASON, required=True)
    try:
        with transaction.atomic():
            row = Submission.objects.select_for_update().get(pk=submission.pk)
            if SubmissionReturn.objects.filter(submission=row).exists():
                refuse(f"第{row.version}版已经退回。")
            later = Submission.objects.filter(
                org_id=row.org_id, period=row.period, version__gt=row.version
            ).exists()
            if later:
                refuse(f"第{row.version}版不是最新的报送，只能退回最新版本。")
            return SubmissionReturn.objects.create(submission=row, reason=reason, returned_by=by)
    except IntegrityError:
        refuse(f"第{submission.version}版已经退回。")


# ---------------------------------------------------------------- reading one submission


def get_submission_for_user(user, pk) -> Submission:
    """The submission `pk` if the user reads its organisation's statistics: 404 outside the
    user's scope, 403 for one who sees the organisation without a reading role."""
    submission = (
        Submission.objects.select_related(
            "org", "org__parent", "submitted_by", "returned", "returned__returned_by"
        )
        .filter(pk=object_id(pk))
        .first()
    )
    if submission is None or not can(user, Action.VIEW, submission.org):
        raise Http404("没有找到该报送。")
    if not can_read_stats(user, submission.org):
        raise PermissionDenied("您没有权限查看该组织的统计报送。")
    return submission


def get_attachment_for_user(user, pk) -> SubmissionAttachment:
    """An attachment of a submission the user reads (as get_submission_for_user)."""
    attachment = SubmissionAttachment.objects.filter(pk=object_id(pk)).first()
    if attachment is None:
        raise Http404("没有找到该附件。")
    get_submission_for_user(user, attachment.submission_id)
    return attachment


def versions_of(*, org: Organization, period: str) -> list[Submission]:
    """Every version of `org`'s report for `period`, first to last, with who submitted and who
    returned it (one query)."""
    return list(
        Submission.objects.filter(org=org, period=period)
        .select_related("submitted_by", "returned", "returned__returned_by")
        .order_by("version")
    )


@dataclass
class Cell:
    col: Col
    value: int | float | None  # a number, a rate in [0, 1], or None (not in the snapshot)


@dataclass
class FrozenRow:
    kind: str  # "child", "own" or "total"
    label: str
    cells: list[Cell]


@dataclass
class FrozenTable:
    spec: TableSpec
    period: Period
    as_of: datetime.datetime | None
    rows: list[FrozenRow]  # the children, then 本级
    total: FrozenRow

    @property
    def groups(self) -> list[tuple[str, int]]:
        return self.spec.groups


def _cells(spec: TableSpec, raw: dict) -> list[Cell]:
    cells = []
    for col in spec.cols:
        if col.rate_of:
            done, owed = col.rate_of
            value = share(raw[done], raw[owed]) if done in raw and owed in raw else None
        else:
            value = raw.get(col.key)
        cells.append(Cell(col, value))
    return cells


def frozen_tables(*, figures: dict) -> list[FrozenTable]:
    """A snapshot's tables as the pages draw them, in the tables' order; rates from the frozen
    numbers."""
    tables = []
    for spec in TABLES.values():
        data = figures.get(spec.key)
        if not data:
            continue
        rows = [
            FrozenRow("child", row["name"], _cells(spec, row["figures"])) for row in data["rows"]
        ]
        own = data.get("own") or {}
        if any(own.values()):
            rows.append(FrozenRow("own", "本级", _cells(spec, own)))
        as_of = data.get("as_of")
        tables.append(
            FrozenTable(
                spec=spec,
                period=Period.parse(data["period"]),
                as_of=datetime.datetime.fromisoformat(as_of) if as_of else None,
                rows=rows,
                total=FrozenRow("total", "合计", _cells(spec, data["total"])),
            )
        )
    return tables


# ---------------------------------------------------------------- the parent's page


@dataclass
class ChildStatus:
    """A child that reports to the parent, and where its report for the quarter stands."""

    org: Organization
    due_on: datetime.date | None
    latest: Submission | None  # the latest version, returned or not
    today: datetime.date

    @property
    def is_done(self) -> bool:
        """Reported, and not returned: what the obligation asks."""
        return self.latest is not None and not self.latest.is_returned

    @property
    def is_returned(self) -> bool:
        return self.latest is not None and self.latest.is_returned

    @property
    def is_overdue(self) -> bool:
        """Not reported, and its date has passed."""
        return not self.is_done and self.due_on is not None and self.today > self.due_on

    @property
    def current(self) -> Submission | None:
        return self.latest if self.is_done else None


def children_status(
    *, parent: Organization, quarter: Period, today: datetime.date | None = None
) -> list[ChildStatus]:
    """The children that report to `parent`, each with its latest version for `quarter` and its
    date: three queries (children, submissions, the calendar) whatever their number."""
    today = today or campaign_today()
    children = list(reporting_children(parent))
    latest: dict[int, Submission] = {}
    rows = (
        Submission.objects.filter(period=quarter.slug, org__in=[c.pk for c in children])
        .select_related("submitted_by", "returned", "returned__returned_by")
        .order_by("org_id", "-version")
    )
    for row in rows:
        latest.setdefault(row.org_id, row)
    dates = calendars(orgs=children, years=[quarter.year], keep=lambda p: p == quarter)
    due = {
        org_id: next((r.due_on for r in found if r.kind.key == REPORT_KIND), None)
        for org_id, found in dates.items()
    }
    return [ChildStatus(c, due.get(c.pk), latest.get(c.pk), today) for c in children]


@dataclass
class Compared:
    col: Col
    submitted: int | None  # None: no current report
    live: int

    @property
    def differs(self) -> bool:
        return self.submitted is not None and self.submitted != self.live

    @property
    def delta(self) -> int:
        """The live figure less the reported one."""
        return self.live - (self.submitted or 0)


@dataclass
class ComparedRow:
    label: str
    status: ChildStatus | None  # None: the total row
    cells: list[Compared]

    @property
    def differences(self) -> int:
        return sum(1 for c in self.cells if c.differs)


@dataclass
class Comparison:
    """One table: each reporting child's reported total beside its live figures."""

    spec: TableSpec
    period: Period
    cols: list[Col]
    rows: list[ComparedRow]
    total: ComparedRow
    as_of: datetime.datetime | None

    @property
    def groups(self) -> list[tuple[str, int]]:
        spans: list[tuple[str, int]] = []
        for c in self.cols:
            if spans and spans[-1][0] == c.group and c.group:
                spans[-1] = (c.group, spans[-1][1] + 1)
            else:
                spans.append((c.group, 1))
        return spans

    @property
    def differences(self) -> int:
        return sum(row.differences for row in self.rows)


def comparison(
    *, parent: Organization, quarter: Period, statuses: list[ChildStatus]
) -> list[Comparison]:
    """For each table, the parent's table built from its children's reports beside the live
    figures (reports.tables.build for the parent): three queries per table. The total row adds
    up the children that have reported, reported and live alike."""
    tables = []
    for spec in TABLES.values():
        period = table_period(spec, quarter)
        live = build(spec, parent, period)
        live_by_org = {row.org.pk: row.raw for row in live.rows if row.kind == "child"}
        cols = [c for c in spec.cols if not c.is_rate]
        sums_sent: dict[str, int] = defaultdict(int)
        sums_live: dict[str, int] = defaultdict(int)
        rows = []
        for status in statuses:
            now = live_by_org.get(status.org.pk, {})
            sent = None
            if status.current is not None:
                sent = (status.current.figures.get(spec.key) or {}).get("total")
            cells = []
            for col in cols:
                live_value = int(now.get(col.key, 0))
                sent_value = None if sent is None else sent.get(col.key)
                cells.append(Compared(col, sent_value, live_value))
                if sent is not None:
                    sums_sent[col.key] += int(sent_value or 0)
                    sums_live[col.key] += live_value
            rows.append(ComparedRow(status.org.name, status, cells))
        any_sent = any(s.current is not None for s in statuses)
        total = ComparedRow(
            "合计（已报送）",
            None,
            [Compared(c, sums_sent[c.key] if any_sent else None, sums_live[c.key]) for c in cols],
        )
        tables.append(Comparison(spec, period, cols, rows, total, live.as_of))
    return tables


# ---------------------------------------------------------------- an organisation's year


@dataclass
class QuarterLine:
    period: Period
    due_on: datetime.date | None
    versions: list[Submission] = field(default_factory=list)
    children_owed: int = 0
    children_done: int = 0

    @property
    def children_missing(self) -> int:
        return self.children_owed - self.children_done

    @property
    def latest(self) -> Submission | None:
        return self.versions[-1] if self.versions else None

    @property
    def is_done(self) -> bool:
        return self.latest is not None and not self.latest.is_returned

    @property
    def is_returned(self) -> bool:
        return self.latest is not None and self.latest.is_returned


@dataclass
class Overview:
    org: Organization
    year: int
    owes: bool  # the organisation reports to its parent
    children: int  # the children that report to it
    quarters: list[QuarterLine]


def overview(*, org: Organization, year: int) -> Overview:
    """`org`'s report dates of `year` with its own versions, and how many of its reporting
    children have reported each quarter: five queries."""
    quarters = Period.all_of(year, QUARTER)
    slugs = [q.slug for q in quarters]
    owes = owes_report(org)
    children = reporting_children(org)
    child_count = children.count()
    dates = {
        r.period: r.due_on
        for r in calendars(orgs=[org], years=[year])[org.pk]
        if r.kind.key == REPORT_KIND
    }
    lines = {q.slug: QuarterLine(q, dates.get(q), children_owed=child_count) for q in quarters}
    if owes:
        for row in (
            Submission.objects.filter(org=org, period__in=slugs)
            .select_related("submitted_by", "returned")
            .order_by("version")
        ):
            lines[row.period].versions.append(row)
    if child_count:
        done = (
            Submission.objects.filter(
                period__in=slugs, org__in=children.values("pk"), returned__isnull=True
            )
            .values_list("period", "org_id")
            .distinct()
        )
        for slug, _org_id in done:
            lines[slug].children_done += 1
    return Overview(org, year, owes, child_count, list(lines.values()))


def submission_links(user, org: Organization) -> list[dict]:
    """The organisation page's link to its 报送 page, for those who read its statistics, where
    it reports or has children that report to it (one query)."""
    if not can_read_stats(user, org):
        return []
    if not reporting_orgs().filter(Q(pk=org.pk) | Q(parent_id=org.pk)).exists():
        return []
    return [{"text": "统计报送", "url": reverse("reports:submissions", args=[org.pk])}]
