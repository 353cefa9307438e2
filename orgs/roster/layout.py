"""The roster workbook's layout: its sheets and columns, and the labels a cell may hold for each
choice (the template lists them, the export writes them, the import reads them)."""

from __future__ import annotations

from orgs.models import EDUCATION_ALIASES, Member, MemberCategory, OrgKind, Sector

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
EDUCATION_SHORT_FORMS = "、".join(EDUCATION_ALIASES)
