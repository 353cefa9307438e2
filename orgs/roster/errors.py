"""How the roster import answers bad input: every problem as a row of the error table (sheet,
row, column, message), and a workbook refused as a whole before its rows are read."""

from __future__ import annotations

from dataclasses import dataclass


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


class Refused(Exception):
    """A workbook refused as a whole: reading stops at the first such problem."""

    def __init__(self, error: RowError):
        super().__init__(str(error))
        self.error = error


def refused(message: str, sheet: str = "文件", row: int | None = None, column: str = ""):
    return Refused(RowError(sheet, row, column, message))


UNREADABLE = "无法读取该文件，请确认是 .xlsx 格式的 Excel 工作簿。"
MALFORMED = (
    "文件内容已损坏（XML 格式错误或缺少必要部件），无法读取。"
    "请在 Excel 中打开并另存为 .xlsx 后再导入。"
)
ENCRYPTED = (
    "该文件设有打开密码（已加密）或是旧版 .xls 格式，无法读取。"
    "请在 Excel 中取消密码，另存为 .xlsx 后再导入。"
)
