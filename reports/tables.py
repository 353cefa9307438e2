"""The four statistics tables of the leading-group office: their columns and how they are built.

A table is for one organisation (the root) and one period: a row per active child (its whole
subtree), the root's own row (本级, when it has figures of its own) and a total row. Every number
comes from the kept figures (orgs/figures.py) rolled up by nested-set range — three queries
whatever the size of the subtree; rates are computed from the two numbers beside them.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from orgs import figures
from orgs.models import Organization
from orgs.numbers import share
from orgs.periods import HALF, QUARTER, YEAR, Period


@dataclass(frozen=True)
class Col:
    key: str  # unique in its table; for a number, the figures column it shows
    group: str  # the first header row (merged over the columns of one group)
    label: str  # the second header row
    rate_of: tuple[str, str] | None = None  # (done, owed): a percentage of two columns
    gap_of: tuple[str, str] | None = None  # (owed, done): drills down to those not done

    @property
    def is_rate(self) -> bool:
        return self.rate_of is not None

    @property
    def drill(self) -> str | None:
        """What the number's names list is asked for: its column, or "owed-done" for a rate."""
        if self.rate_of:
            done, owed = self.rate_of
            return f"{owed}-{done}"
        return self.key


@dataclass(frozen=True)
class TableSpec:
    key: str
    title: str
    source: str  # the figures source
    period_kind: str
    cols: tuple[Col, ...]
    note: str = ""

    def col(self, key: str) -> Col:
        for c in self.cols:
            if c.key == key:
                return c
        raise KeyError(key)

    @property
    def groups(self) -> list[tuple[str, int]]:
        """The first header row: (group, columns it spans), in order."""
        spans: list[tuple[str, int]] = []
        for c in self.cols:
            if spans and spans[-1][0] == c.group and c.group:
                spans[-1] = (c.group, spans[-1][1] + 1)
            else:
                spans.append((c.group, 1))
        return spans


def _c(key, group, label, **kw) -> Col:
    return Col(key=key, group=group, label=label, **kw)


REVIEWS = TableSpec(
    key="reviews",
    title="领导点评情况统计表",
    source="reviews",
    period_kind=QUARTER,
    note="党员按季度点评；基层党组织及其书记按半年点评，表中为本季度所在半年的数。",
    cols=(
        _c("orgs_owed", "基层党组织", "应点评"),
        _c("orgs_reviewed", "基层党组织", "已点评"),
        _c("orgs_rate", "基层党组织", "点评率", rate_of=("orgs_reviewed", "orgs_owed")),
        _c("secretaries_owed", "党组织书记", "应点评"),
        _c("secretaries_reviewed", "党组织书记", "已点评"),
        _c("members_owed", "党员", "应点评"),
        _c("members_reviewed", "党员", "已点评"),
        _c("members_rate", "党员", "点评率", rate_of=("members_reviewed", "members_owed")),
        _c("reviewers_done", "书记作点评", "全部完成"),
        _c("reviewers_owed", "书记作点评", "应作点评"),
        _c("by_central", "点评方式（人次）", "集中"),
        _c("by_individual", "点评方式（人次）", "个别"),
        _c("by_onsite", "点评方式（人次）", "现场"),
        _c("by_random", "点评方式（人次）", "随机"),
        _c("rect_raised", "整改事项", "提出"),
        _c("rect_closed", "整改事项", "已销号"),
        _c("rect_overdue", "整改事项", "逾期"),
        _c("exempt_members", "免予点评", "党员"),
        _c("exempt_orgs", "免予点评", "党组织及书记"),
    ),
)

PLEDGES = TableSpec(
    key="pledges",
    title="公开承诺统计表",
    source="pledges",
    period_kind=YEAR,
    cols=(
        _c("orgs_owed", "党组织", "应承诺"),
        _c("orgs_pledged", "党组织", "已承诺"),
        _c("orgs_annual", "党组织", "年度"),
        _c("orgs_immediate", "党组织", "即时"),
        _c("orgs_term", "党组织", "任期"),
        _c("members_owed", "党员", "应承诺"),
        _c("members_pledged", "党员", "已承诺"),
        _c("members_rate", "党员", "承诺率", rate_of=("members_pledged", "members_owed")),
        _c("members_oral", "党员", "口头承诺"),
        _c("members_community", "党员", "在职党员社区承诺"),
        _c("items", "承诺事项", "总数"),
        _c("items_approved", "承诺事项", "已审定"),
        _c("items_published", "承诺事项", "已公示"),
        _c("fulfilled", "兑现情况", "已兑现"),
        _c("partly", "兑现情况", "部分兑现"),
        _c("not_fulfilled", "兑现情况", "未兑现"),
        _c("overdue", "兑现情况", "超期未完成"),
        _c("rect_open", "整改", "整改中"),
        _c("rect_closed", "整改", "已销号"),
        _c("makeup_orgs", "需补课", "党组织"),
        _c("makeup_members", "需补课", "党员"),
    ),
)

APPRAISAL = TableSpec(
    key="appraisal",
    title="民主评议统计表",
    source="appraisal",
    period_kind=YEAR,
    cols=(
        _c("sessions_owed", "评议", "应开展"),
        _c("sessions_held", "评议", "已开展"),
        _c("sessions_published", "评议", "已公开结果"),
        _c("voters_member", "参加人数", "党员"),
        _c("voters_masses", "参加人数", "群众"),
        _c("orgs_band_1", "党组织满意率", "90%以上"),
        _c("orgs_band_2", "党组织满意率", "80%–90%"),
        _c("orgs_band_3", "党组织满意率", "60%–80%"),
        _c("orgs_band_4", "党组织满意率", "60%以下"),
        _c("votes_1", "评议党组织票数", "满意"),
        _c("votes_2", "评议党组织票数", "比较满意"),
        _c("votes_3", "评议党组织票数", "一般"),
        _c("votes_4", "评议党组织票数", "不满意"),
        _c("members_excellent", "党员评定", "优秀"),
        _c("members_pass", "党员评定", "合格"),
        _c("members_basic", "党员评定", "基本合格"),
        _c("members_fail", "党员评定", "不合格"),
        _c("members_deferred", "党员评定", "暂缓评议"),
    ),
)

_SECTIONS = (
    ("pledges", "承诺写实"),
    ("fulfilment", "履诺写实"),
    ("review", "领导点评"),
    ("year", "年度写实"),
)

LEDGERS = TableSpec(
    key="ledgers",
    title="写实簿统计表",
    source="ledgers",
    period_kind=HALF,
    cols=(
        _c("member_owed", "党员写实簿", "应建"),
        _c("member_open", "党员写实簿", "已建"),
        _c("org_owed", "党组织写实簿", "应建"),
        _c("org_open", "党组织写实簿", "已建"),
        *(
            _c(f"{who}_{kind}_{state}", f"{whose}{label}", "已签" if state == "signed" else "应签")
            for who, whose in (("m", "党员"), ("o", "党组织"))
            for kind, label in _SECTIONS
            for state in ("due", "signed")
        ),
    ),
)

TABLES: dict[str, TableSpec] = {t.key: t for t in (REVIEWS, PLEDGES, APPRAISAL, LEDGERS)}


def table_spec(key: str) -> TableSpec:
    return TABLES[key]


def default_period(spec: TableSpec, today: datetime.date) -> Period:
    return Period.containing(today, spec.period_kind)


# ---------------------------------------------------------------- building a table


@dataclass
class Row:
    kind: str  # "child", "own" or "total"
    org: Organization
    label: str
    values: dict[str, int | float | None]  # number, or a rate in [0, 1] (None: nothing owed)
    raw: dict[str, int] = field(default_factory=dict)


@dataclass
class Table:
    spec: TableSpec
    root: Organization
    period: Period
    rows: list[Row]  # the children, then 本级
    total: Row
    as_of: datetime.datetime | None

    @property
    def all_rows(self) -> list[Row]:
        return [*self.rows, self.total]


def _values(spec: TableSpec, raw: dict[str, int]) -> dict[str, int | float | None]:
    values: dict[str, int | float | None] = {}
    for c in spec.cols:
        if c.rate_of:
            done, owed = c.rate_of
            values[c.key] = share(raw.get(done, 0), raw.get(owed, 0))
        else:
            values[c.key] = int(raw.get(c.key, 0))
    return values


def build(spec: TableSpec, root: Organization, period: Period) -> Table:
    """The table for `root` and `period`: three queries."""
    if period.kind != spec.period_kind:
        raise ValueError(f"{spec.key} is a table of {spec.period_kind} periods")
    rolled = figures.rollup(spec.source, root, period)
    rows = [Row("child", org, org.name, _values(spec, raw), raw) for org, raw in rolled.children]
    if any(rolled.own.values()):
        rows.append(Row("own", root, "本级", _values(spec, rolled.own), rolled.own))
    total = Row("total", root, "合计", _values(spec, rolled.total), rolled.total)
    return Table(spec=spec, root=root, period=period, rows=rows, total=total, as_of=rolled.as_of)
