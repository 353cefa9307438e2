"""The roster workbook: template, export of a subtree, and an all-or-nothing import.

Sheet 组织: 组织代码 上级组织代码 组织名称 组织类别 行业类别 书记姓名
Sheet 党员: 姓名 性别 民族 出生年月 入党时间 文化程度 现任职务 党员类别 所在党组织代码 标记

An organisation is identified by its code; a member by 姓名 + 出生年月 + 入党时间. Every row is
validated before anything is written, and the writes happen in one transaction through
orgs.services, so a re-import of the same file changes nothing.

A workbook is untrusted input: before openpyxl parses anything, the archive is checked (entries,
uncompressed sizes, compression ratio, encryption, no DTD, UTF-8 only), then the sheets are
streamed in read-only mode with caps on rows, columns and cell length. Every refusal, and every
failure while applying the plan, comes back as the error table (RosterImportError).
"""

from __future__ import annotations

import datetime
import logging
import re
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

from orgs import services
from orgs.forms import parse_month
from orgs.models import (
    EDUCATION_ALIASES,
    ETHNICITIES,
    MEMBER_HOLDING_KINDS,
    Education,
    Gender,
    Member,
    MemberCategory,
    Membership,
    Organization,
    OrgKind,
    Sector,
    education_from_text,
    kind_allowed_under,
)
from orgs.text import person_name, strip_invisible

logger = logging.getLogger(__name__)

ORG_SHEET = "组织"
MEMBER_SHEET = "党员"
ORG_COLUMNS = ["组织代码", "上级组织代码", "组织名称", "组织类别", "行业类别", "书记姓名"]
MEMBER_COLUMNS = [
    "姓名",
    "性别",
    "民族",
    "出生年月",
    "入党时间",
    "文化程度",
    "现任职务",
    "党员类别",
    "所在党组织代码",
    "标记",
]
REQUIRED_ORG = {"组织代码", "组织名称", "组织类别", "行业类别"}
REQUIRED_MEMBER = {"姓名", "性别", "出生年月", "入党时间", "文化程度", "所在党组织代码"}

KIND_BY_LABEL = {kind.label: kind.value for kind in OrgKind}
SECTOR_BY_LABEL = {sector.label: sector.value for sector in Sector}
CATEGORY_BY_LABEL = {c.label: c.value for c in MemberCategory} | {
    "正式": "full",
    "预备": "probationary",
}
FLAG_BY_LABEL = {
    str(Member._meta.get_field(name).verbose_name): name for name in Member.FLAG_FIELDS
}
CODE_RE = re.compile(r"[A-Z0-9][A-Z0-9._-]{0,31}")
DATE_RE = re.compile(r"^\s*(\d{4})\s*[-./年]\s*(\d{1,2})\s*(?:[-./月]\s*(\d{1,2})\s*日?)?\s*$")
FLAG_SPLIT_RE = re.compile(r"[、,，;；\s]+")
EDUCATION_SHORT_FORMS = "、".join(EDUCATION_ALIASES)
# Text starting with one of these becomes a formula when typed into (or opened by) a spreadsheet.
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")

MB = 1024 * 1024
EXCEL_MAX_ROWS = 1_048_576
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an encrypted .xlsx, or an old .xls
# Some producers capitalise part names differently (Sheet1.xml, SharedStrings.xml).
SHEET_PART_RE = re.compile(r"xl/worksheets/sheet\d+\.xml", re.IGNORECASE)
STRINGS_PART = "xl/sharedstrings.xml"
DTD_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")
XML_ENCODING_RE = re.compile(rb"""\s*<\?xml[^>]*?encoding\s*=\s*["']([^"']*)["']""")


@dataclass(frozen=True)
class ReadLimits:
    """What a workbook may unpack to before it is parsed, and what its sheets may hold.

    Worksheets are streamed and the shared strings are read into one list, so they may be large;
    every other part openpyxl parses whole into a tree, so it stays small. A part over 1 MB that
    unpacks to more than `max_ratio` times its packed size is a zip bomb, not a roster (a real
    sheet packs about 15:1).
    """

    max_rows: int | None = None  # data rows per sheet; None: only Excel's own limit
    max_entries: int = 200
    max_sheet_bytes: int = 64 * MB
    max_strings_bytes: int = 32 * MB
    max_part_bytes: int = 8 * MB
    max_total_bytes: int = 160 * MB
    max_ratio: int = 100
    max_columns: int = 100
    max_cell_chars: int = 1000

    def part_cap(self, name: str) -> int:
        if SHEET_PART_RE.fullmatch(name):
            return self.max_sheet_bytes
        if name.lower() == STRINGS_PART:
            return self.max_strings_bytes
        return self.max_part_bytes


def page_limits() -> ReadLimits:
    """An import from the web page: at most ROSTER_PAGE_MAX_ROWS rows a sheet."""
    return ReadLimits(max_rows=settings.ROSTER_PAGE_MAX_ROWS)


# The operator's command: no row cap; rows are streamed, so memory stays bounded by the plan.
COMMAND_LIMITS = ReadLimits(
    max_sheet_bytes=4096 * MB, max_strings_bytes=512 * MB, max_total_bytes=6144 * MB
)


@dataclass(frozen=True)
class RowError:
    sheet: str
    row: int | None
    column: str
    message: str

    def __str__(self) -> str:
        where = f"“{self.sheet}”表" + (f"第{self.row}行" if self.row else "")
        return f"{where}{f'【{self.column}】' if self.column else ''}：{self.message}"


class RosterImportError(Exception):
    def __init__(self, errors: list[RowError]):
        super().__init__(f"{len(errors)} 处错误")
        self.errors = errors


class _Refused(Exception):
    """A workbook refused as a whole: reading stops at the first such problem."""

    def __init__(self, error: RowError):
        super().__init__(str(error))
        self.error = error


def _refused(message: str, sheet: str = "文件", row: int | None = None, column: str = ""):
    return _Refused(RowError(sheet, row, column, message))


UNREADABLE = "无法读取该文件，请确认是 .xlsx 格式的 Excel 工作簿。"
MALFORMED = (
    "文件内容已损坏（XML 格式错误或缺少必要部件），无法读取。"
    "请在 Excel 中打开并另存为 .xlsx 后再导入。"
)
ENCRYPTED = (
    "该文件设有打开密码（已加密）或是旧版 .xls 格式，无法读取。"
    "请在 Excel 中取消密码，另存为 .xlsx 后再导入。"
)


@dataclass
class ImportResult:
    orgs_created: int = 0
    orgs_updated: int = 0
    orgs_moved: int = 0
    members_created: int = 0
    members_updated: int = 0
    members_transferred: int = 0
    secretaries_set: int = 0

    @property
    def changed(self) -> bool:
        return any(vars(self).values())

    def summary(self) -> str:
        return (
            f"新增组织 {self.orgs_created} 个，修改 {self.orgs_updated} 个，移动 {self.orgs_moved} 个；"
            f"新增党员 {self.members_created} 名，修改 {self.members_updated} 名，"
            f"转接 {self.members_transferred} 名；设定书记 {self.secretaries_set} 处。"
        )


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


# ---------------------------------------------------------------- template and export


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
        if isinstance(value, str) and value.startswith(FORMULA_LEADS):
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"
            cell.quotePrefix = True
            value = cell
        row.append(value)
    return row


def write_export(*, root: Organization, stream: IO[bytes]) -> None:
    """The subtree under `root` as a roster workbook (write-only mode: constant memory)."""
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


# ---------------------------------------------------------------- reading and validating


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


def _check_archive(stream: IO[bytes], limits: ReadLimits) -> None:
    """Refuse, before any XML is parsed, a file that is not a plain .xlsx of a sane size."""
    stream.seek(0)
    if stream.read(len(OLE_MAGIC)) == OLE_MAGIC:
        raise _refused(ENCRYPTED)
    stream.seek(0)
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise _refused(UNREADABLE) from None
    with archive:
        parts = archive.infolist()
        if len(parts) > limits.max_entries:
            raise _refused(
                f"文件内部包含的部件过多（{len(parts)} 个，上限 {limits.max_entries} 个），"
                "不是正常的花名册工作簿。"
            )
        for part in parts:
            if part.flag_bits & 0x1:
                raise _refused(ENCRYPTED)
            if part.file_size > MB and part.file_size > limits.max_ratio * max(
                part.compress_size, 1
            ):
                ratio = part.file_size // max(part.compress_size, 1)
                raise _refused(
                    f"文件部件“{part.filename}”的压缩比异常（{ratio}:1，上限 {limits.max_ratio}:1），"
                    "可能是恶意构造的文件，未读取。"
                )
            cap = limits.part_cap(part.filename)
            if part.file_size > cap:
                raise _refused(
                    f"文件部件“{part.filename}”解压后 {_size(part.file_size)}，"
                    f"超过上限 {_size(cap)}，未读取。{_TOO_BIG_HINT}"
                )
        total = sum(part.file_size for part in parts)
        if total > limits.max_total_bytes:
            raise _refused(
                f"文件解压后共 {_size(total)}，超过上限 {_size(limits.max_total_bytes)}，未读取。"
                f"{_TOO_BIG_HINT}"
            )
        for part in parts:
            _scan_part(archive, part)
    stream.seek(0)


_TOO_BIG_HINT = (
    "如确为大型花名册，请分批导入，或请服务器管理员用命令 manage.py import_roster 导入。"
)


def _size(n: int) -> str:
    return f"{n / MB:.1f} MB" if n >= MB else f"{max(n // 1024, 1)} KB"


def _scan_part(archive: zipfile.ZipFile, part: zipfile.ZipInfo) -> None:
    """Unpack one part as a stream (its real size cannot exceed the checked one): no DTD or
    entity declaration anywhere (entity expansion, external files), and XML in UTF-8 only, so the
    scan cannot be fooled by another encoding."""
    overlap = max(len(m) for m in DTD_MARKERS) - 1
    tail = b""
    try:
        with archive.open(part) as source:
            head = source.read(64 * 1024)
            _check_encoding(part.filename, head)
            chunk = head
            while chunk:
                window = tail + chunk
                if any(marker in window for marker in DTD_MARKERS):
                    raise _refused(
                        f"文件部件“{part.filename}”包含 DTD 或实体声明（<!DOCTYPE、<!ENTITY），"
                        "正常的 Excel 工作簿不会有，未读取。"
                    )
                tail = window[-overlap:]
                chunk = source.read(MB)
    except _Refused:
        raise
    except Exception:  # noqa: BLE001 - a bad CRC, an unknown method, a broken stream: damaged
        raise _refused(MALFORMED) from None


def _check_encoding(name: str, head: bytes) -> None:
    unsupported = _refused(f"文件部件“{name}”使用了不支持的字符编码（只接受 UTF-8），未读取。")
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or head.startswith((b"<\x00", b"\x00<")):
        raise unsupported
    match = XML_ENCODING_RE.match(head.removeprefix(b"\xef\xbb\xbf"))
    if match and match.group(1).lower() not in (b"utf-8", b"utf8"):
        raise unsupported


def _check_declared_size(sheet, title: str, limits: ReadLimits) -> None:
    """The size the sheet says it has (a hint only: rows are counted again while streaming)."""
    if sheet.max_column and sheet.max_column > limits.max_columns:
        raise _refused(
            f"工作表声明的范围有 {sheet.max_column} 列，超过上限 {limits.max_columns} 列。"
            "请删除多余的列后再导入。",
            sheet=title,
        )
    if sheet.max_row:
        _check_row_number(sheet.max_row, title, limits, declared=True)


def _check_row_number(number: int, title: str, limits: ReadLimits, declared=False) -> None:
    blank = "（含空白行；如表末有大量空白行，请删除后再导入）" if declared else ""
    if limits.max_rows is not None and number - 1 > limits.max_rows:
        raise _refused(
            f"超过 {limits.max_rows} 行{blank}：页面导入每张表最多 {limits.max_rows} 行（不含表头）。"
            "请分批导入，或请服务器管理员用命令 manage.py import_roster 导入（不限行数）。",
            sheet=title,
        )
    if number > EXCEL_MAX_ROWS:
        raise _refused(
            f"行数超过 Excel 的上限 {EXCEL_MAX_ROWS} 行，不是正常的工作表。", sheet=title
        )


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
        raise _refused(
            f"有 {len(cells)} 列，超过上限 {limits.max_columns} 列。请删除多余的列后再导入。",
            sheet=title,
            row=number,
        )
    values = [cell.value for cell in cells]
    for i, value in enumerate(values):
        if isinstance(value, str) and len(value) > limits.max_cell_chars:
            column = header[i] if i < len(header) and header[i] else get_column_letter(i + 1)
            raise _refused(
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


def _in_range(org: Organization, root: Organization) -> bool:
    return org.tree_id == root.tree_id and root.lft <= org.lft <= root.rght


class _Resolver:
    """Checks the plan against the database: parents, kinds, scope, identities, secretaries."""

    def __init__(self, plan: Plan, root: Organization | None, errors: list[RowError]):
        self.plan, self.root, self.errors = plan, root, errors
        self.file_orgs = {o.code: o for o in plan.orgs}
        codes = set(self.file_orgs) | {o.parent_code for o in plan.orgs if o.parent_code}
        codes |= {m.org_code for m in plan.members}
        self.db_orgs = {o.code: o for o in Organization.objects.filter(code__in=codes)}

    def inside(self, code: str) -> bool:
        """Whether `code` ends up inside the import's scope (an unrestricted import has none)."""
        if self.root is None:
            return True
        seen = set()
        while code in self.file_orgs and code not in seen:
            seen.add(code)
            if code == self.root.code:
                return True
            code = self.file_orgs[code].parent_code
        org = self.db_orgs.get(code)
        return org is not None and _in_range(org, self.root)

    def final_kind(self, code: str) -> str | None:
        if code in self.file_orgs:
            return self.file_orgs[code].kind
        org = self.db_orgs.get(code)
        return org.kind if org else None

    def check_orgs(self) -> None:
        for o in self.plan.orgs:
            existing = self.db_orgs.get(o.code)
            if self.root is not None:
                if existing is not None and not _in_range(existing, self.root):
                    self._org_error(
                        o, "组织代码", f"“{o.code}”不在您可导入的范围（{self.root.name}）内。"
                    )
                    continue
                if existing is not None and existing.pk == self.root.pk:
                    if o.parent_code != (existing.parent.code if existing.parent_id else ""):
                        self._org_error(
                            o, "上级组织代码", "不能改变导入范围最高一级组织的上级组织。"
                        )
                    continue
            if not o.parent_code:
                if existing is not None and existing.parent_id is None:
                    continue
                if self.root is not None:
                    self._org_error(o, "上级组织代码", "不能为空。")
                continue
            if o.parent_code not in self.file_orgs and o.parent_code not in self.db_orgs:
                self._org_error(o, "上级组织代码", f"找不到组织代码为“{o.parent_code}”的上级组织。")
                continue
            if not self.inside(o.parent_code):
                self._org_error(o, "上级组织代码", f"“{o.parent_code}”不在您可导入的范围内。")
                continue
            parent_kind = self.final_kind(o.parent_code)
            if not kind_allowed_under(o.kind, parent_kind):
                self._org_error(
                    o,
                    "组织类别",
                    f"“{OrgKind(o.kind).label}”不能设在“{OrgKind(parent_kind).label}”之下。",
                )
        self._check_cycles()

    def _check_cycles(self) -> None:
        for o in self.plan.orgs:
            code, steps = o.parent_code, 0
            while code in self.file_orgs and steps <= len(self.file_orgs):
                if code == o.code:
                    self._org_error(o, "上级组织代码", "上下级关系形成了循环。")
                    break
                code, steps = self.file_orgs[code].parent_code, steps + 1
            else:
                existing_parent = self.db_orgs.get(code)
                existing = self.db_orgs.get(o.code)
                if existing and existing_parent and existing.tree_id == existing_parent.tree_id:
                    if existing.lft <= existing_parent.lft <= existing.rght and code != o.code:
                        self._org_error(o, "上级组织代码", "不能移到本组织的下级组织之下。")

    def _org_error(self, o: OrgRow, column: str, message: str) -> None:
        self.errors.append(RowError(ORG_SHEET, o.row, column, message))

    def check_members(self) -> dict[tuple, Member]:
        """Validate the member rows; returns the existing members matched by identity."""
        existing: dict[tuple, Member] = {}
        identities = sorted({m.identity for m in self.plan.members})
        table = connection.ops.quote_name(Member._meta.db_table)
        for start in range(0, len(identities), 500):
            batch = identities[start : start + 500]
            rows = ", ".join(["(%s, %s, %s)"] * len(batch))
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT id FROM {table} WHERE (name, birth_date, joined_on) IN ({rows})",
                    [value for identity in batch for value in identity],
                )
                ids = [row[0] for row in cursor.fetchall()]
            for member in Member.objects.filter(pk__in=ids).select_related("org"):
                existing[(member.name, member.birth_date, member.joined_on)] = member
        open_since = dict(
            Membership.objects.filter(
                member_id__in=[m.pk for m in existing.values()], end__isnull=True
            ).values_list("member_id", "start")
        )
        today = timezone.localdate()
        for m in self.plan.members:
            code = m.org_code
            if code not in self.file_orgs and code not in self.db_orgs:
                self._member_error(m, "所在党组织代码", f"找不到组织代码为“{code}”的党组织。")
                continue
            if not self.inside(code):
                self._member_error(m, "所在党组织代码", f"“{code}”不在您可导入的范围内。")
                continue
            if self.final_kind(code) not in MEMBER_HOLDING_KINDS:
                label = OrgKind(self.final_kind(code)).label
                self._member_error(
                    m, "所在党组织代码", f"党员应编入党委、党总支或党支部，“{code}”是{label}。"
                )
                continue
            found = existing.get(m.identity)
            if found is None:
                continue
            if self.root is not None and not _in_range(found.org, self.root):
                self._member_error(
                    m,
                    "姓名",
                    "该党员的组织关系在您管理范围以外的党组织，请由其所在组织办理转接。",
                )
                continue
            if found.org.code != code and open_since.get(found.pk, today) >= today:
                self._member_error(
                    m, "所在党组织代码", "该党员今天已办理过组织关系转接，请明天再导入。"
                )
        return existing

    def _member_error(self, m: MemberRow, column: str, message: str) -> None:
        self.errors.append(RowError(MEMBER_SHEET, m.row, column, message))

    def secretaries(self, existing: dict[tuple, Member]) -> dict[str, Member | MemberRow | None]:
        """For each organisation row, its secretary: a member of it or of a direct child."""
        wanted = [o for o in self.plan.orgs if o.secretary_name]
        result: dict[str, Member | MemberRow | None] = {
            o.code: None for o in self.plan.orgs if not o.secretary_name
        }
        if not wanted:
            return result
        children: dict[str, set[str]] = defaultdict(set)
        for o in self.plan.orgs:
            if o.parent_code:
                children[o.parent_code].add(o.code)
        db_parent_codes = [o.code for o in wanted if o.code in self.db_orgs]
        for code, parent_code in Organization.objects.filter(
            parent__code__in=db_parent_codes
        ).values_list("code", "parent__code"):
            file_row = self.file_orgs.get(code)
            if file_row is None or file_row.parent_code == parent_code:
                children[parent_code].add(code)
        file_by_identity = {m.identity: m for m in self.plan.members}
        candidates: dict[tuple[str, str], list] = defaultdict(list)
        for m in self.plan.members:
            candidates[(m.org_code, m.fields["name"])].append(m)
        scope_codes = {c for o in wanted for c in {o.code, *children[o.code]}}
        db_members = Member.objects.filter(
            org__code__in=scope_codes, name__in={o.secretary_name for o in wanted}
        ).select_related("org")
        for member in db_members:
            if (member.name, member.birth_date, member.joined_on) not in file_by_identity:
                candidates[(member.org.code, member.name)].append(member)
        for o in wanted:
            own = candidates[(o.code, o.secretary_name)]
            below = [
                c
                for child in sorted(children[o.code])
                for c in candidates[(child, o.secretary_name)]
            ]
            pool = own or below
            if not pool:
                self._org_error(
                    o, "书记姓名", f"本组织及直属下级组织中没有名为“{o.secretary_name}”的党员。"
                )
            elif len(pool) > 1:
                self._org_error(
                    o,
                    "书记姓名",
                    f"名为“{o.secretary_name}”的党员有{len(pool)}名，无法确定是哪一位。",
                )
            else:
                result[o.code] = pool[0]
        return result


def read_plan(
    stream: IO[bytes], *, root: Organization | None, limits: ReadLimits | None = None
) -> tuple[Plan, list[RowError], Any]:
    """Check the archive, then stream both sheets into a plan and the list of row errors."""
    limits = limits or page_limits()
    errors: list[RowError] = []
    try:
        _check_archive(stream, limits)
        wb = load_workbook(stream, read_only=True, data_only=False, keep_links=False)
    except _Refused as refusal:
        return Plan(), [refusal.error], None
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - whatever openpyxl raises on a damaged package
        logger.info("roster workbook could not be opened", exc_info=True)
        return Plan(), [RowError("文件", None, "", MALFORMED)], None
    try:
        org_records = _read_sheet(wb, ORG_SHEET, ORG_COLUMNS, REQUIRED_ORG, errors, limits)
        member_records = _read_sheet(
            wb, MEMBER_SHEET, MEMBER_COLUMNS, REQUIRED_MEMBER, errors, limits
        )
    except _Refused as refusal:
        return Plan(), [refusal.error], None
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - bad XML inside a sheet surfaces only while streaming
        logger.info("roster sheet could not be read", exc_info=True)
        return Plan(), [RowError("文件", None, "", MALFORMED)], None
    finally:
        wb.close()
    plan = Plan(_parse_org_rows(org_records, errors), _parse_member_rows(member_records, errors))
    if not plan.orgs and not plan.members and not errors:
        errors.append(RowError("文件", None, "", "两张表都没有数据。"))
    return plan, errors, None


def import_roster(
    stream: IO[bytes], *, by, root: Organization | None, limits: ReadLimits | None = None
) -> ImportResult:
    """Validate the whole workbook, then apply it in one transaction; RosterImportError lists
    every problem by sheet, row and column and nothing is written.

    `root` limits the import to a subtree (the importing user's); None is the unrestricted import
    of the server's operator. `limits` defaults to a page upload's (see ReadLimits).
    """
    plan, errors, _ = read_plan(stream, root=root, limits=limits)
    resolver = _Resolver(plan, root, errors)
    resolver.check_orgs()
    existing = resolver.check_members()
    secretaries = resolver.secretaries(existing) if not errors else {}
    if errors:
        raise RosterImportError(
            sorted(errors, key=lambda e: (e.sheet != ORG_SHEET, e.sheet, e.row or 0))
        )
    at = _Position()
    try:
        return _apply(
            plan,
            by=by,
            db_orgs=resolver.db_orgs,
            existing=existing,
            secretaries=secretaries,
            at=at,
        )
    except ValidationError as failure:
        reason = "；".join(m.rstrip("。") for m in failure.messages)
    except IntegrityError:
        logger.warning("roster import refused by the database", exc_info=True)
        reason = "与系统中已有的记录冲突（可能有人同时在修改）"
    except DatabaseError:
        logger.exception("roster import failed while writing")
        reason = "数据库暂时无法写入，请稍后重试"
    raise RosterImportError(
        [RowError(at.sheet, at.row, "", f"写入时出错：{reason}。未导入任何数据。")]
    )


@dataclass
class _Position:
    """The row being applied, to name it when the database or a service refuses it."""

    sheet: str = "文件"
    row: int | None = None


def _ordered(orgs: list[OrgRow]) -> list[OrgRow]:
    """Parents before children."""
    by_code = {o.code: o for o in orgs}
    done: set[str] = set()
    ordered: list[OrgRow] = []

    def visit(o: OrgRow) -> None:
        if o.code in done:
            return
        done.add(o.code)
        if o.parent_code in by_code:
            visit(by_code[o.parent_code])
        ordered.append(o)

    for o in orgs:
        visit(o)
    return ordered


@transaction.atomic
def _apply(plan: Plan, *, by, db_orgs, existing, secretaries, at: _Position) -> ImportResult:
    result = ImportResult()
    orgs = dict(db_orgs)
    rows = {o.code: o.row for o in plan.orgs}
    for o in _ordered(plan.orgs):
        at.sheet, at.row = ORG_SHEET, o.row
        parent = orgs.get(o.parent_code) if o.parent_code else None
        org = orgs.get(o.code)
        if org is None:
            orgs[o.code] = services.organization_create(
                by=by, parent=parent, name=o.name, code=o.code, kind=o.kind, sector=o.sector
            )
            result.orgs_created += 1
            continue
        if parent is not None and org.parent_id != parent.pk:
            org.refresh_from_db()
            parent.refresh_from_db()
            services.organization_move(by=by, org=org, new_parent=parent)
            result.orgs_moved += 1
        fields = {"name": o.name, "kind": o.kind, "sector": o.sector}
        if services.changes(org, fields):
            services.organization_update(by=by, org=org, **fields)
            result.orgs_updated += 1
    today = timezone.localdate()
    for m in plan.members:
        at.sheet, at.row = MEMBER_SHEET, m.row
        org = orgs[m.org_code]
        found = existing.get(m.identity)
        if found is None:
            existing[m.identity] = services.member_create(by=by, org=org, since=today, **m.fields)
            result.members_created += 1
            continue
        if services.changes(found, m.fields):
            services.member_update(by=by, member=found, **m.fields)
            result.members_updated += 1
        if found.org_id != org.pk:
            services.member_transfer(by=by, member=found, to_org=org, on=today, note="花名册导入")
            result.members_transferred += 1
    for code, secretary in secretaries.items():
        at.sheet, at.row = ORG_SHEET, rows.get(code)
        if isinstance(secretary, MemberRow):
            secretary = existing[secretary.identity]
        org = orgs[code]
        if org.secretary_id != (secretary.pk if secretary else None):
            services.organization_update(by=by, org=org, secretary=secretary)
            result.secretaries_set += 1
    return result
