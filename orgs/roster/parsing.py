"""Reading a roster workbook into a plan: the sheets streamed in read-only mode within the read
limits, every row validated on its own (formats, choices, duplicates within the file). What the
rows mean against the database is orgs.roster.resolving's."""

from __future__ import annotations

import datetime
import logging
import re
from dataclasses import dataclass, field
from typing import IO, Any

from django.utils import timezone
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from orgs.forms import parse_month
from orgs.models import ETHNICITIES, Education, Gender, Member, education_from_text
from orgs.roster.archive import ReadLimits, check_archive, page_limits
from orgs.roster.errors import MALFORMED, Refused, RowError, refused
from orgs.roster.layout import (
    CATEGORY_BY_LABEL,
    EDUCATION_SHORT_FORMS,
    FLAG_BY_LABEL,
    KIND_BY_LABEL,
    MEMBER_COLUMNS,
    MEMBER_SHEET,
    ORG_COLUMNS,
    ORG_SHEET,
    REQUIRED_MEMBER,
    REQUIRED_ORG,
    SECTOR_BY_LABEL,
)
from orgs.text import person_name, strip_invisible

logger = logging.getLogger(__name__)

CODE_RE = re.compile(r"[A-Z0-9][A-Z0-9._-]{0,31}")
DATE_RE = re.compile(r"^\s*(\d{4})\s*[-./年]\s*(\d{1,2})\s*(?:[-./月]\s*(\d{1,2})\s*日?)?\s*$")
FLAG_SPLIT_RE = re.compile(r"[、,，;；\s]+")
EXCEL_MAX_ROWS = 1_048_576


@dataclass
class OrgRow:
    row: int
    code: str
    parent_code: str
    name: str
    kind: str
    sector: str
    secretary_name: str


@dataclass
class MemberRow:
    row: int
    fields: dict[str, Any]
    org_code: str

    @property
    def identity(self) -> tuple:
        return (self.fields["name"], self.fields["birth_date"], self.fields["joined_on"])


@dataclass
class Plan:
    orgs: list[OrgRow] = field(default_factory=list)
    members: list[MemberRow] = field(default_factory=list)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return strip_invisible(str(value))


def _parse_date(value: Any) -> datetime.date | None:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    match = DATE_RE.match(_text(value))
    if not match:
        return None
    year, month, day = int(match.group(1)), int(match.group(2)), int(match.group(3) or 1)
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None


def _parse_month(value: Any) -> datetime.date | None:
    if isinstance(value, datetime.date | datetime.datetime):
        return datetime.date(value.year, value.month, 1)
    return parse_month(_text(value))


def _check_declared_size(sheet, title: str, limits: ReadLimits) -> None:
    """The size the sheet says it has (a hint only: rows are counted again while streaming)."""
    if sheet.max_column and sheet.max_column > limits.max_columns:
        raise refused(
            f"工作表声明的范围有 {sheet.max_column} 列，超过上限 {limits.max_columns} 列。"
            "请删除多余的列后再导入。",
            sheet=title,
        )
    if sheet.max_row:
        _check_row_number(sheet.max_row, title, limits, declared=True)


def _check_row_number(number: int, title: str, limits: ReadLimits, declared=False) -> None:
    blank = "（含空白行；如表末有大量空白行，请删除后再导入）" if declared else ""
    if limits.max_rows is not None and number - 1 > limits.max_rows:
        raise refused(
            f"超过 {limits.max_rows} 行{blank}：页面导入每张表最多 {limits.max_rows} 行（不含表头）。"
            "请分批导入，或请服务器管理员用命令 manage.py import_roster 导入（不限行数）。",
            sheet=title,
        )
    if number > EXCEL_MAX_ROWS:
        raise refused(f"行数超过 Excel 的上限 {EXCEL_MAX_ROWS} 行，不是正常的工作表。", sheet=title)


def _read_sheet(
    wb, title: str, columns: list[str], required: set[str], errors: list[RowError], limits
):
    if title not in wb.sheetnames:
        errors.append(RowError(title, None, "", f"缺少名为“{title}”的工作表。"))
        return []
    sheet = wb[title]
    _check_declared_size(sheet, title, limits)
    # Read what is there, not what the sheet declares: a declared size too small would silently
    # drop rows, a large one would pad every row.
    sheet.reset_dimensions()
    rows = sheet.iter_rows()
    header_cells = next(rows, ())
    header = [_text(v) for v in _cell_values(header_cells, 1, [], title, limits)]
    missing = [c for c in columns if c not in header]
    if missing:
        errors.append(RowError(title, 1, "", f"表头缺少列：{'、'.join(missing)}。"))
        return []
    index = {name: header.index(name) for name in columns}
    records = []
    for number, cells in enumerate(rows, start=2):
        _check_row_number(number, title, limits)
        values = _cell_values(cells, number, header, title, limits)
        formulas = [
            RowError(title, number, name, _formula_message(values[i]))
            for name, i in index.items()
            if i < len(cells) and cells[i].data_type == "f"
        ]
        if formulas:
            errors.extend(formulas)
            continue
        values += [None] * (len(header) - len(values))
        record = {name: values[i] for name, i in index.items()}
        if all(_text(v) == "" for v in record.values()):
            continue
        for name in columns:
            if name in required and _text(record[name]) == "":
                errors.append(RowError(title, number, name, "不能为空。"))
        records.append((number, record))
    return records


def _cell_values(cells, number: int, header: list[str], title: str, limits: ReadLimits) -> list:
    if len(cells) > limits.max_columns:
        raise refused(
            f"有 {len(cells)} 列，超过上限 {limits.max_columns} 列。请删除多余的列后再导入。",
            sheet=title,
            row=number,
        )
    values = [cell.value for cell in cells]
    for i, value in enumerate(values):
        if isinstance(value, str) and len(value) > limits.max_cell_chars:
            column = header[i] if i < len(header) and header[i] else get_column_letter(i + 1)
            raise refused(
                f"内容有 {len(value)} 个字符，超过上限 {limits.max_cell_chars} 个字符。",
                sheet=title,
                row=number,
                column=column,
            )
    return values


def _formula_message(formula: Any) -> str:
    shown = str(formula)
    shown = shown if len(shown) <= 30 else f"{shown[:30]}…"
    return (
        f"单元格是公式（{shown}），导入不计算公式。请改为直接填写的内容"
        "（可在 Excel 中复制后“选择性粘贴 → 数值”）。"
    )


def _parse_org_rows(records, errors: list[RowError]) -> list[OrgRow]:
    rows, seen = [], {}
    for number, r in records:
        code, parent_code = _text(r["组织代码"]).upper(), _text(r["上级组织代码"]).upper()
        kind_label, sector_label = _text(r["组织类别"]), _text(r["行业类别"])
        ok = True
        for column, value in (("组织代码", code), ("上级组织代码", parent_code)):
            if value and not CODE_RE.fullmatch(value):
                errors.append(
                    RowError(
                        ORG_SHEET,
                        number,
                        column,
                        f"“{value}”不是有效的组织代码（字母、数字、点、下划线、短横线，最长32位）。",
                    )
                )
                ok = False
        if code and code in seen:
            errors.append(
                RowError(ORG_SHEET, number, "组织代码", f"“{code}”与第{seen[code]}行重复。")
            )
            ok = False
        if kind_label and kind_label not in KIND_BY_LABEL:
            errors.append(
                RowError(
                    ORG_SHEET,
                    number,
                    "组织类别",
                    f"“{kind_label}”不是有效类别，应为：{'、'.join(KIND_BY_LABEL)}。",
                )
            )
            ok = False
        if sector_label and sector_label not in SECTOR_BY_LABEL:
            errors.append(
                RowError(
                    ORG_SHEET,
                    number,
                    "行业类别",
                    f"“{sector_label}”不是有效类别，应为：{'、'.join(SECTOR_BY_LABEL)}。",
                )
            )
            ok = False
        name = _text(r["组织名称"])
        if len(name) > 100:
            errors.append(RowError(ORG_SHEET, number, "组织名称", "超过100个字。"))
            ok = False
        if code and code == parent_code:
            errors.append(RowError(ORG_SHEET, number, "上级组织代码", "不能是本组织自己。"))
            ok = False
        if code:
            seen[code] = number
        if ok and code and name and kind_label and sector_label:
            rows.append(
                OrgRow(
                    number,
                    code,
                    parent_code,
                    name,
                    KIND_BY_LABEL[kind_label],
                    SECTOR_BY_LABEL[sector_label],
                    _text(r["书记姓名"]),
                )
            )
    return rows


def _parse_member_rows(records, errors: list[RowError]) -> list[MemberRow]:
    rows, seen = [], {}
    today = timezone.localdate()
    for number, r in records:
        row_errors: list[RowError] = []

        def bad(column, message, number=number, row_errors=row_errors):
            row_errors.append(RowError(MEMBER_SHEET, number, column, message))

        name = person_name(_text(r["姓名"]))
        if len(name) > 50:
            bad("姓名", "超过50个字。")
        gender = _text(r["性别"])
        if gender and gender not in Gender.values:
            bad("性别", f"“{gender}”应为“男”或“女”。")
        ethnicity = _text(r["民族"]) or "汉族"
        if ethnicity not in ETHNICITIES:
            bad("民族", f"“{ethnicity}”不是五十六个民族之一（请写全称，如“汉族”）。")
        birth = _parse_month(r["出生年月"])
        if _text(r["出生年月"]) and birth is None:
            bad("出生年月", f"“{_text(r['出生年月'])}”不是有效的年月，格式如 1968-05。")
        joined = _parse_date(r["入党时间"])
        if _text(r["入党时间"]) and joined is None:
            bad("入党时间", f"“{_text(r['入党时间'])}”不是有效的日期，格式如 1995-07-01。")
        if birth and birth > today:
            bad("出生年月", "不能晚于今天。")
        if joined and joined > today:
            bad("入党时间", "不能晚于今天。")
        if birth and joined and joined < birth.replace(year=birth.year + 18):
            bad("入党时间", "应在年满十八岁之后。")
        education = _text(r["文化程度"])
        if education:
            written, education = education, education_from_text(education)
            if education is None:
                bad(
                    "文化程度",
                    f"“{written}”应为：{'、'.join(Education.values)}"
                    f"（也可写简称：{EDUCATION_SHORT_FORMS}）。",
                )
        post = _text(r["现任职务"])
        if len(post) > 100:
            bad("现任职务", "超过100个字。")
        category_label = _text(r["党员类别"]) or "正式党员"
        if category_label not in CATEGORY_BY_LABEL:
            bad("党员类别", f"“{category_label}”应为“正式党员”或“预备党员”。")
        flags = dict.fromkeys(Member.FLAG_FIELDS, False)
        for label in filter(None, FLAG_SPLIT_RE.split(_text(r["标记"]))):
            if label not in FLAG_BY_LABEL:
                bad("标记", f"“{label}”不是有效标记，可用：{'、'.join(FLAG_BY_LABEL)}。")
            else:
                flags[FLAG_BY_LABEL[label]] = True
        org_code = _text(r["所在党组织代码"]).upper()
        errors.extend(row_errors)
        if row_errors or not (name and gender and birth and joined and education and org_code):
            continue
        member = MemberRow(
            number,
            {
                "name": name,
                "gender": gender,
                "ethnicity": ethnicity,
                "birth_date": birth,
                "joined_on": joined,
                "education": education,
                "post": post,
                "category": CATEGORY_BY_LABEL[category_label],
                **flags,
            },
            org_code,
        )
        if member.identity in seen:
            errors.append(
                RowError(
                    MEMBER_SHEET,
                    number,
                    "姓名",
                    f"与第{seen[member.identity]}行是同一名党员（姓名、出生年月、入党时间相同）。",
                )
            )
            continue
        seen[member.identity] = number
        rows.append(member)
    return rows


def read_plan(
    stream: IO[bytes], *, limits: ReadLimits | None = None
) -> tuple[Plan, list[RowError]]:
    """Check the archive, then stream both sheets into a plan and the list of row errors."""
    limits = limits or page_limits()
    errors: list[RowError] = []
    try:
        check_archive(stream, limits)
        wb = load_workbook(stream, read_only=True, data_only=False, keep_links=False)
    except Refused as refusal:
        return Plan(), [refusal.error]
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - whatever openpyxl raises on a damaged package
        logger.info("roster workbook could not be opened", exc_info=True)
        return Plan(), [RowError("文件", None, "", MALFORMED)]
    try:
        org_records = _read_sheet(wb, ORG_SHEET, ORG_COLUMNS, REQUIRED_ORG, errors, limits)
        member_records = _read_sheet(
            wb, MEMBER_SHEET, MEMBER_COLUMNS, REQUIRED_MEMBER, errors, limits
        )
    except Refused as refusal:
        return Plan(), [refusal.error]
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - bad XML inside a sheet surfaces only while streaming
        logger.info("roster sheet could not be read", exc_info=True)
        return Plan(), [RowError("文件", None, "", MALFORMED)]
    finally:
        wb.close()
    plan = Plan(_parse_org_rows(org_records, errors), _parse_member_rows(member_records, errors))
    if not plan.orgs and not plan.members and not errors:
        errors.append(RowError("文件", None, "", "两张表都没有数据。"))
    return plan, errors
