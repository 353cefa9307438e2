"""The roster workbook: template, export of a subtree, and an all-or-nothing import.

Sheet 组织: 组织代码 上级组织代码 组织名称 组织类别 行业类别 书记姓名
Sheet 党员: 姓名 性别 民族 出生年月 入党时间 文化程度 现任职务 党员类别 所在党组织代码 标记

An organisation is identified by its code; a member by 姓名 + 出生年月 + 入党时间. Every row is
validated before anything is written, and the writes happen in one transaction through
orgs.services, so a re-import of the same file changes nothing.

The modules, in the order an import goes through them:
- layout: the sheets, columns and choice labels;
- archive: the checks on the file before openpyxl parses anything, and the read limits;
- parsing: the sheets streamed into a plan of rows, each row validated on its own;
- resolving: the plan checked against the database (parents, scope, identities, secretaries);
- applying: the plan written in one transaction, or nothing;
- workbook: the template and the export;
- errors: the error table (RowError) every refusal comes back as (RosterImportError).

The names below are what views, commands and tests use.
"""

from orgs.roster.applying import ImportResult, import_roster
from orgs.roster.archive import COMMAND_LIMITS, ReadLimits, page_limits
from orgs.roster.errors import RosterImportError, RowError
from orgs.roster.layout import MEMBER_COLUMNS, MEMBER_SHEET, ORG_COLUMNS, ORG_SHEET
from orgs.roster.workbook import write_export, write_template

__all__ = [
    "COMMAND_LIMITS",
    "MEMBER_COLUMNS",
    "MEMBER_SHEET",
    "ORG_COLUMNS",
    "ORG_SHEET",
    "ImportResult",
    "ReadLimits",
    "RosterImportError",
    "RowError",
    "import_roster",
    "page_limits",
    "write_export",
    "write_template",
]
