"""The sections of the two forms and who signs each, exactly as 附件1 and 附件2 print them.

附件2 (党员): 承诺写实 — 公开承诺事项, signed by 党员本人 then 党支部书记; 履诺践诺写实 for each
quarter — 第N季度承诺兑现情况 (党员本人) and 领导点评 (党支部书记); 年度写实 — 简要总结 and 党员群众
评议情况 (党支部书记). 附件1 (党组织): the same with the half-years, 基层党组织书记 and 上级党组织书记.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from orgs.periods import HALF, QUARTER, YEAR, Period

MEMBER_SELF = "member"  # 党员本人
BRANCH = "branch"  # 党支部书记 (of the branch the section belongs to)
ORG_SELF = "org"  # 基层党组织书记 (of the organisation the ledger is about)
UPPER = "upper"  # 上级党组织书记 (of its parent, the keeper)

SLOT_LABELS = {
    MEMBER_SELF: "党员本人",
    BRANCH: "党支部书记",
    ORG_SELF: "基层党组织书记",
    UPPER: "上级党组织书记",
}

# What a section is built from; the names are also the lock sources (ledgers/locks.py).
PLEDGES = "pledges"
FULFILMENT = "fulfilment"
REVIEW = "review"
YEAR_END = "year"

GROUP_PLEDGE = "承诺写实"
GROUP_DEED = "履诺践诺写实"
GROUP_YEAR = "年度写实"

REVIEW_HEADING = "领导点评（要写清成绩、不足和努力方向）"
SUMMARY_HEADING = "年度开展创先争优活动情况简要总结"
APPRAISAL_HEADING = "党员群众评议情况"

ORG_SCALE = ("满意", "比较满意", "一般", "不满意")
# 附件2 prints the organisation's headings; members are graded 好/较好/一般/差 (§三.2), and the
# member ledger prints the member scale.
MEMBER_SCALE = ("好", "较好", "一般", "差")


@dataclass(frozen=True)
class SectionSpec:
    key: str
    group: str  # the vertical label at the left of the grid
    heading: str  # the heading printed in the section
    builds_from: str  # PLEDGES, FULFILMENT, REVIEW or YEAR_END
    slots: tuple[str, ...]  # who signs, lower first
    period_kind: str  # QUARTER, HALF or YEAR ("pledges": the year, signed after the window)
    number: int = 1

    def period(self, year: int) -> Period:
        if self.period_kind == YEAR:
            return Period.whole_year(year)
        return Period(year, self.period_kind, self.number)

    @property
    def is_review(self) -> bool:
        return self.builds_from == REVIEW

    @property
    def short_label(self) -> str:
        """How the grid's column heads name it."""
        if self.builds_from == PLEDGES:
            return "承诺"
        if self.builds_from == YEAR_END:
            return "年度"
        name = Period(2000, self.period_kind, self.number).short_label
        return f"{name}点评" if self.is_review else f"{name}兑现"


def _member_sections() -> tuple[SectionSpec, ...]:
    sections = [
        SectionSpec("pledge", GROUP_PLEDGE, "公开承诺事项", PLEDGES, (MEMBER_SELF, BRANCH), YEAR)
    ]
    for n in range(1, 5):
        label = Period(2000, QUARTER, n).short_label
        sections.append(
            SectionSpec(
                f"q{n}", GROUP_DEED, f"{label}承诺兑现情况", FULFILMENT, (MEMBER_SELF,), QUARTER, n
            )
        )
        sections.append(
            SectionSpec(f"q{n}r", GROUP_DEED, REVIEW_HEADING, REVIEW, (BRANCH,), QUARTER, n)
        )
    sections.append(SectionSpec("year", GROUP_YEAR, SUMMARY_HEADING, YEAR_END, (BRANCH,), YEAR))
    return tuple(sections)


def _org_sections() -> tuple[SectionSpec, ...]:
    sections = [
        SectionSpec("pledge", GROUP_PLEDGE, "公开承诺事项", PLEDGES, (ORG_SELF, UPPER), YEAR)
    ]
    for n in (1, 2):
        label = Period(2000, HALF, n).short_label
        sections.append(
            SectionSpec(
                f"h{n}", GROUP_DEED, f"{label}承诺兑现情况", FULFILMENT, (ORG_SELF,), HALF, n
            )
        )
        sections.append(
            SectionSpec(f"h{n}r", GROUP_DEED, REVIEW_HEADING, REVIEW, (UPPER,), HALF, n)
        )
    sections.append(SectionSpec("year", GROUP_YEAR, SUMMARY_HEADING, YEAR_END, (UPPER,), YEAR))
    return tuple(sections)


MEMBER_SECTIONS = _member_sections()
ORG_SECTIONS = _org_sections()


def sections_of(kind: str) -> tuple[SectionSpec, ...]:
    return MEMBER_SECTIONS if kind == "member" else ORG_SECTIONS


def section_spec(kind: str, key: str) -> SectionSpec:
    for spec in sections_of(kind):
        if spec.key == key:
            return spec
    raise KeyError(key)


def deadline_sections(kind: str, period: Period) -> tuple[SectionSpec, ...]:
    """The sections a ledger deadline covers: a quarter's (half-year's) two sections, with the
    承诺写实 in the first and the 年度写实 in the last."""
    found = [
        s for s in sections_of(kind) if s.period_kind == period.kind and s.number == period.number
    ]
    last = 4 if period.kind == QUARTER else 2
    if period.number == 1:
        found.insert(0, sections_of(kind)[0])
    if period.number == last:
        found.append(sections_of(kind)[-1])
    return tuple(found)


def date_text(day: datetime.date | None) -> str:
    return day.isoformat() if day else ""
