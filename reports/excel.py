"""The statistics tables as the office's Excel workbooks: one table to a sheet, in the layout of
the printed forms (a title with the period; 填报单位, 填报日期 and 数据截至; a two-row header with
merged groups; a row per unit and the total), ready to print on A4 landscape.

A table holds a row per child organisation, so a sheet is small even for the province (its
cities): the workbook is built in openpyxl's ordinary mode, which merges cells and sets print
titles, rather than in the write-only mode the roster export needs for its millions of rows.
Numbers are written as numbers and rates as fractions with a percentage format, so the office can
add them up in Excel; text that Excel would run as a formula (an organisation named
"=HYPERLINK(…)") is written as text.
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Iterable

from django.utils import timezone
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.worksheet import Worksheet

from orgs.spreadsheets import keep_as_text, looks_like_formula
from reports.tables import Row, Table

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

FONT = "宋体"  # the name Excel on the offices' machines knows; LibreOffice substitutes its own
RATE_FORMAT = "0.0%"

TITLE_ROW, INFO_ROW, HEADER_ROW = 1, 2, 3  # the header takes rows 3 and 4
FIRST_DATA_ROW = HEADER_ROW + 2
NO_DATA = "暂无数据"

_THIN = Side(style="thin", color="000000")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
_LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)
_RIGHT = Alignment(horizontal="right", vertical="center")


def table_title(table: Table) -> str:
    """ "2026年第三季度领导点评情况统计表"."""
    return f"{table.period.label}{table.spec.title}"


def table_filename(table: Table) -> str:
    return _file_safe(f"{table.root.name}-{table_title(table)}.xlsx")


def all_tables_filename(root_name: str, today: datetime.date) -> str:
    return _file_safe(f"{root_name}-统计报表-{today:%Y%m%d}.xlsx")


def table_workbook(table: Table, *, today: datetime.date | None = None) -> Workbook:
    """One table on one sheet."""
    return all_tables_workbook([table], today=today)


def all_tables_workbook(tables: Iterable[Table], *, today: datetime.date | None = None) -> Workbook:
    """Each table on a sheet of its own, in the order given."""
    today = today or timezone.localdate()
    wb = Workbook()
    wb.remove(wb.active)
    for table in tables:
        write_sheet(wb.create_sheet(_sheet_name(table)), table, today=today)
    return wb


def workbook_bytes(wb: Workbook) -> bytes:
    stream = io.BytesIO()
    wb.save(stream)
    return stream.getvalue()


def as_of_text(as_of: datetime.datetime | None) -> str:
    """The time of the figures as the office reads it (local time), or 暂无数据."""
    if as_of is None:
        return NO_DATA
    local = timezone.localtime(as_of)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def write_sheet(ws: Worksheet, table: Table, *, today: datetime.date) -> None:
    spec = table.spec
    width = 1 + len(spec.cols)  # the unit's name, then a column per figure
    _title(ws, table_title(table), width)
    _info(ws, table, today, width)
    _header(ws, table, width)
    row = FIRST_DATA_ROW
    for item in table.all_rows:
        _data_row(ws, row, table, item)
        row += 1
    if spec.note:
        _merged(ws, row, 1, width, f"说明：{spec.note}", font=_font(size=10), align=_LEFT)
    _columns(ws, table)
    _print_settings(ws)


# ---------------------------------------------------------------- the parts of a sheet


def _font(*, size: float = 11, bold: bool = False) -> Font:
    return Font(name=FONT, size=size, bold=bold)


def _put(ws: Worksheet, row: int, column: int, value, *, font=None, align=None, border=None):
    """Write a cell; text is always text, even when it starts like a formula."""
    cell = ws.cell(row=row, column=column)
    cell.value = value
    if looks_like_formula(value):
        keep_as_text(cell)  # openpyxl took it for a formula
    cell.font = font or _font()
    if align is not None:
        cell.alignment = align
    if border is not None:
        cell.border = border
    return cell


def _merged(ws: Worksheet, row: int, first: int, last: int, value, *, row_end=None, **style):
    """A value over a merged range; the border set on its first cell is drawn round the range."""
    cell = _put(ws, row, first, value, **style)
    end = row_end or row
    if last > first or end > row:
        ws.merge_cells(start_row=row, start_column=first, end_row=end, end_column=last)
    return cell


def _title(ws: Worksheet, title: str, width: int) -> None:
    _merged(ws, TITLE_ROW, 1, width, title, font=_font(size=16, bold=True), align=_CENTER)
    ws.row_dimensions[TITLE_ROW].height = 30


def _thirds(width: int) -> list[tuple[int, int]]:
    """Three column ranges side by side across `width` columns (the first takes the remainder)."""
    third = max(1, width // 3)
    first_end = max(1, width - 2 * third)
    return [(1, first_end), (first_end + 1, first_end + third), (first_end + third + 1, width)]


def _info(ws: Worksheet, table: Table, today: datetime.date, width: int) -> None:
    texts = [
        f"填报单位：{table.root.name}",
        f"填报日期：{today.year}年{today.month}月{today.day}日",
        f"数据截至：{as_of_text(table.as_of)}",
    ]
    aligns = [_LEFT, Alignment(horizontal="center", vertical="center"), _RIGHT]
    for (first, last), text, align in zip(_thirds(width), texts, aligns, strict=True):
        _merged(ws, INFO_ROW, first, last, text, font=_font(), align=align)
    ws.row_dimensions[INFO_ROW].height = 22


def _header(ws: Worksheet, table: Table, width: int) -> None:
    """Two rows: the groups merged over their columns, the labels under them; a column without
    a group (the unit's name first) spans both rows."""
    top, bottom = HEADER_ROW, HEADER_ROW + 1
    bold = _font(bold=True)
    style = {"font": bold, "align": _CENTER, "border": _BOX}
    _merged(ws, top, 1, 1, "单位", row_end=bottom, **style)
    cols = table.spec.cols
    column = 2
    for group, span in table.spec.groups:
        if group:
            _merged(ws, top, column, column + span - 1, group, **style)
            for offset in range(span):
                _put(ws, bottom, column + offset, cols[column - 2 + offset].label, **style)
        else:
            for offset in range(span):
                label = cols[column - 2 + offset].label
                _merged(ws, top, column + offset, column + offset, label, row_end=bottom, **style)
        column += span
    ws.row_dimensions[top].height = 32
    ws.row_dimensions[bottom].height = 32


def _data_row(ws: Worksheet, row: int, table: Table, item: Row) -> None:
    is_total = item.kind == "total"
    font = _font(bold=is_total)
    _put(ws, row, 1, item.label, font=font, align=_CENTER if is_total else _LEFT, border=_BOX)
    for offset, col in enumerate(table.spec.cols, start=2):
        value = item.values.get(col.key)
        cell = _put(ws, row, offset, value, font=font, align=_CENTER, border=_BOX)
        if col.is_rate:
            cell.number_format = RATE_FORMAT
    ws.row_dimensions[row].height = 20


def _display_width(text: str) -> int:
    """Columns a text takes in a CJK font: two for a Chinese character, one for the rest."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _columns(ws: Worksheet, table: Table) -> None:
    """The unit's column as wide as its longest name (within bounds); a figure's as its label,
    whose header cell wraps beyond that."""
    names = ["单位", *(r.label for r in table.all_rows)]
    ws.column_dimensions["A"].width = min(40, max(14, max(map(_display_width, names)) + 2))
    for index, col in enumerate(table.spec.cols, start=2):
        width = min(12, max(7, _display_width(col.label) + 2))
        ws.column_dimensions[get_column_letter(index)].width = width


def _print_settings(ws: Worksheet) -> None:
    """A4 landscape, every column on one page's width (as many pages down as the rows need),
    the header repeated on each page, and the header and names held in view on screen."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins = PageMargins(left=0.4, right=0.4, top=0.6, bottom=0.8, footer=0.3)
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW + 1}"
    ws.freeze_panes = ws.cell(row=FIRST_DATA_ROW, column=2).coordinate
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"


def _sheet_name(table: Table) -> str:
    """The table's title: Excel allows 31 characters and none of []:*?/\\ in a sheet's name."""
    name = "".join("_" if ch in "[]:*?/\\" else ch for ch in table.spec.title)
    return name[:31]


def _file_safe(name: str) -> str:
    return "".join("_" if ch in '\\/:*?"<>|' or ord(ch) < 32 else ch for ch in name)
