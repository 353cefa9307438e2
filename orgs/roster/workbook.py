"""Writing roster workbooks: the empty template with a sheet of allowed values, and the export
of a subtree (write-only mode, constant memory; text that a spreadsheet would run as a formula is
written as text)."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from orgs.models import (
    ETHNICITIES,
    Education,
    Gender,
    Member,
    MemberCategory,
    Organization,
    OrgKind,
    Sector,
)
from orgs.roster.layout import (
    EDUCATION_SHORT_FORMS,
    FLAG_BY_LABEL,
    KIND_BY_LABEL,
    MEMBER_COLUMNS,
    MEMBER_SHEET,
    ORG_COLUMNS,
    ORG_SHEET,
    SECTOR_BY_LABEL,
)
from orgs.spreadsheets import keep_as_text, looks_like_formula


def _header_row(sheet, columns):
    sheet.append(columns)


def write_template(stream: IO[bytes]) -> None:
    """The empty workbook with headers, one example row per sheet, and a sheet of allowed values."""
    wb = Workbook()
    orgs = wb.active
    orgs.title = ORG_SHEET
    _header_row(orgs, ORG_COLUMNS)
    orgs.append(["DEMO-0001-01", "DEMO-0001", "示例村党支部", "党支部", "农村", "张三"])
    members = wb.create_sheet(MEMBER_SHEET)
    _header_row(members, MEMBER_COLUMNS)
    members.append(
        [
            "张三",
            "男",
            "汉族",
            "1968-05",
            "1995-07-01",
            "高中",
            "村党支部书记",
            "正式党员",
            "DEMO-0001-01",
            "",
        ]
    )
    for sheet in (orgs, members):
        for column in sheet.columns:
            sheet.column_dimensions[column[0].column_letter].width = 16
    notes = wb.create_sheet("说明")
    notes.append(["请删除两张表中的示例行后再填写。每张表第一行为表头，不要修改。"])
    notes.append(["组织类别", "、".join(KIND_BY_LABEL)])
    notes.append(["行业类别", "、".join(SECTOR_BY_LABEL)])
    notes.append(["性别", "、".join(Gender.values)])
    notes.append(["民族", "、".join(ETHNICITIES)])
    notes.append(
        ["文化程度", f"{'、'.join(Education.values)}（也可写简称：{EDUCATION_SHORT_FORMS}）"]
    )
    notes.append(["党员类别", "、".join(c.label for c in MemberCategory)])
    notes.append(["标记（可多项，用顿号分隔）", "、".join(FLAG_BY_LABEL)])
    notes.append(["出生年月", "格式 1968-05；入党时间格式 1995-07-01"])
    notes.append(
        ["组织代码", "字母、数字、点、下划线、短横线，全省唯一；上级组织须已存在或在本表中"]
    )
    notes.append(
        ["党员识别", "以 姓名 + 出生年月 + 入党时间 识别同一名党员；重复导入不会产生重复记录"]
    )
    notes.append(["公式", "导入不计算公式：含公式的单元格请先“选择性粘贴 → 数值”"])
    wb.save(stream)


def _as_text_cells(sheet, values: list) -> list:
    """The row with every text that a spreadsheet would take for a formula (=HYPERLINK(…), +1,
    -a, @b) made a text cell with Excel's quote prefix, so it is shown, never run."""
    row = []
    for value in values:
        if looks_like_formula(value):
            cell = WriteOnlyCell(sheet, value=value)
            keep_as_text(cell)
            value = cell
        row.append(value)
    return row


PROGRESS_EVERY = 1000  # rows between two progress reports


def write_export(
    *, root: Organization, stream: IO[bytes], progress: Callable[[int, int], None] | None = None
) -> None:
    """The subtree under `root` as a roster workbook (write-only mode: constant memory).
    `progress(done, total)`, when given, hears of the rows written now and then (a background
    job's page); it costs two counts."""
    report = _Reporter(root, progress)
    wb = Workbook(write_only=True)
    orgs = wb.create_sheet(ORG_SHEET)
    orgs.append(ORG_COLUMNS)
    kind_label = dict(OrgKind.choices)
    sector_label = dict(Sector.choices)
    org_rows = (
        Organization.objects.filter(root.subtree_q())
        .order_by("lft")
        .values_list("code", "parent__code", "name", "kind", "sector", "secretary__name")
    )
    for code, parent_code, name, kind, sector, secretary in org_rows.iterator(chunk_size=5000):
        report.row()
        orgs.append(
            _as_text_cells(
                orgs,
                [
                    code,
                    parent_code or "",
                    name,
                    kind_label[kind],
                    sector_label[sector],
                    secretary or "",
                ],
            )
        )
    members = wb.create_sheet(MEMBER_SHEET)
    members.append(MEMBER_COLUMNS)
    category_label = dict(MemberCategory.choices)
    flag_fields = Member.FLAG_FIELDS
    flag_labels = list(FLAG_BY_LABEL)
    member_rows = (
        Member.objects.filter(root.subtree_q("org__"))
        .order_by("org__lft", "name", "pk")
        .values_list(
            *Member.HEADER_FIELDS,
            "org__code",
            *flag_fields,
        )
    )
    for row in member_rows.iterator(chunk_size=5000):
        report.row()
        name, gender, ethnicity, birth, joined, education, post, category, code, *flags = row
        marks = "、".join(label for label, on in zip(flag_labels, flags, strict=True) if on)
        members.append(
            _as_text_cells(
                members,
                [
                    name,
                    gender,
                    ethnicity,
                    birth.strftime("%Y-%m"),
                    joined.isoformat(),
                    education,
                    post,
                    category_label[category],
                    code,
                    marks,
                ],
            )
        )
    wb.save(stream)
    report.end()


class _Reporter:
    """Counts the rows written and tells `progress` every PROGRESS_EVERY of them."""

    def __init__(self, root: Organization, progress: Callable[[int, int], None] | None) -> None:
        self.progress = progress
        self.done = 0
        self.total = 0
        if progress is not None:
            self.total = (
                Organization.objects.filter(root.subtree_q()).count()
                + Member.objects.filter(root.subtree_q("org__")).count()
            )
            progress(0, self.total)

    def row(self) -> None:
        self.done += 1
        if self.progress is not None and self.done % PROGRESS_EVERY == 0:
            self.progress(self.done, self.total)

    def end(self) -> None:
        if self.progress is not None:
            self.progress(self.done, max(self.done, self.total))
