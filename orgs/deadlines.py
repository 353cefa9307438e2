"""The campaign calendar as data: the deadlines, who owes work before each, and when to remind.

An app declares each kind of deadline it owns once (`register_deadline`, in its AppConfig.ready):
its key, label, the kind of period it falls in, the default date for a period (from the
circulars), and the obligation rule — `gaps(period, org_ids)`, what is still not done for each
organisation whose leaders owe the work. The same rule answers the reminders sweep (every
organisation at once: `org_ids=None`, streamed) and a secretary's home page (their own
organisations only), so a reminder and a to-do never disagree.

Every deadline is a `Deadline` row: the rows without an organisation are the year's default
calendar (`ensure_year` writes them from the kinds' defaults the first time a year is read), and
an office with CONFIGURE moves a date for its subtree (`deadline_set`); for an organisation the
row at it or at its nearest ancestor wins, as for every office setting.

Reminder steps are whole days relative to the date: 7 and 1 remind before it, -1 is the day after
(overdue). Escalation is fixed: the day after the date the gaps go to the parent organisation's
secretary and office (`up1`), a week after it to the grandparent's office (`up2`).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q

from orgs.access import Action, can
from orgs.models import Deadline, Organization, Role
from orgs.periods import Period, is_campaign_year
from orgs.refusals import refuse
from orgs.services import audit

DEFAULT_STEPS = (7, 1, -1)
UP1, UP2 = "up1", "up2"
ESCALATE_AFTER = {UP1: 1, UP2: 7}  # days after the date
ACTIVE_DAYS = 7  # a step stays due this many days (a missed sweep catches up), or until the next
MAX_STEPS = 5
STEP_RANGE = (-30, 90)


@dataclass(frozen=True)
class Gap:
    """Work still not done at one organisation for one deadline."""

    org_id: int  # the organisation whose leaders owe the work
    count: int
    text: str  # what is missing, for a person: "3 名党员未点评"
    url: str  # where the work is done


@dataclass(frozen=True)
class DeadlineKind:
    key: str
    label: str
    period_kind: str  # orgs.periods QUARTER, HALF or YEAR
    default_due: Callable[[Period], datetime.date]
    # gaps(period, org_ids) -> the organisations with work not done; org_ids None: everywhere.
    # None: a date on the calendar that nobody is reminded of (yet).
    gaps: Callable[[Period, set[int] | None], Iterable[Gap]] | None = None
    roles: tuple[str, ...] = (Role.SECRETARY, Role.DEPUTY)  # who at the owing organisation
    source: str = ""  # the circular the date comes from
    # (year) -> [(org, due_on)]: dates that come from another office setting (the pledge window)
    # and take the place of Deadline rows at those organisations; the calendar page then sends
    # the office to `setting_url` to change them
    setting_dates: Callable[[int], list[tuple[Organization, datetime.date]]] | None = None
    setting_url: Callable[[Organization, int], str] | None = None
    order: int = 100


_KINDS: dict[str, DeadlineKind] = {}


def register_deadline(kind: DeadlineKind) -> DeadlineKind:
    known = _KINDS.get(kind.key)
    if known is not None and known is not kind:
        raise ValueError(f"deadline kind {kind.key!r} is declared twice")
    _KINDS[kind.key] = kind
    return kind


def deadline_kinds() -> list[DeadlineKind]:
    return sorted(_KINDS.values(), key=lambda k: (k.order, k.key))


def deadline_kind(key: str) -> DeadlineKind:
    return _KINDS[key]


def step_key(days_before: int) -> str:
    """7 → "-7" (seven days before); -1 → "+1" (a day late)."""
    return f"-{days_before}" if days_before > 0 else f"+{-days_before}"


def step_label(step: str) -> str:
    """How a reminder step reads on a notice that stays in the list (no "明天" that goes stale)."""
    if step == UP1:
        return "下级组织逾期未完成"
    if step == UP2:
        return "下级组织逾期一周仍未完成"
    days = int(step)
    if days < 0:
        return f"截止前{-days}天提醒"
    return "逾期提醒" if days == 1 else f"逾期{days}天提醒"


# ---------------------------------------------------------------- the rows


def _periods(year: int) -> list[tuple[DeadlineKind, Period]]:
    return [(kind, p) for kind in deadline_kinds() for p in Period.all_of(year, kind.period_kind)]


def ensure_year(year: int) -> None:
    """Write the year's default calendar the first time it is read (idempotent: one query when
    it is there; a second writer's rows are skipped by the unique constraint)."""
    wanted = _periods(year)
    # counted over the kinds declared now: rows of a kind no longer declared do not hide a new one
    keys = {kind.key for kind, _period in wanted}
    if Deadline.objects.filter(org=None, year=year, kind__in=keys).count() >= len(wanted):
        return
    Deadline.objects.bulk_create(
        [
            Deadline(
                org=None,
                year=year,
                kind=kind.key,
                period=period.slug,
                due_on=kind.default_due(period),
                steps=list(DEFAULT_STEPS),
            )
            for kind, period in wanted
        ],
        ignore_conflicts=True,
    )


@dataclass(frozen=True)
class Resolved:
    """A deadline as it applies to an organisation."""

    kind: DeadlineKind
    period: Period
    due_on: datetime.date
    steps: tuple[int, ...]
    set_at: Organization | None  # None: the default calendar
    row: Deadline | None = None
    from_setting: bool = False

    @property
    def slug(self) -> str:
        return self.period.slug


def calendar_for(*, org: Organization, year: int) -> list[Resolved]:
    """The year's deadlines as they apply to `org`, in date order (see `calendars`)."""
    return calendars(orgs=[org], years=[year])[org.pk]


def calendars(
    *,
    orgs: Sequence[Organization],
    years: Iterable[int],
    keep: Callable[[Period], bool] | None = None,
) -> dict[int, list[Resolved]]:
    """The deadlines of the periods of `years` (those `keep` keeps, else all) as they apply to
    each of `orgs`: one query for the rows, and one call of a setting-dated kind's dates for
    each year with a period of it kept."""
    wanted_years = sorted({y for y in years if is_campaign_year(y)})
    out: dict[int, list[Resolved]] = {org.pk: [] for org in orgs}
    if not orgs or not wanted_years:
        return out
    kinds = deadline_kinds()
    periods = {
        (kind.key, year): [
            p for p in Period.all_of(year, kind.period_kind) if keep is None or keep(p)
        ]
        for kind in kinds
        for year in wanted_years
    }
    above = Q(org=None)
    for org in orgs:
        above |= Q(org__tree_id=org.tree_id, org__lft__lte=org.lft, org__rght__gte=org.rght)
    query = Deadline.objects.filter(above, year__in=wanted_years).select_related("org")
    rows = list(query)
    keys = {kind.key for kind in kinds}
    defaults = defaultdict(int)
    for row in rows:
        if row.org_id is None and row.kind in keys:
            defaults[row.year] += 1
    missing = [
        year
        for year in wanted_years
        if defaults[year] < sum(len(Period.all_of(year, kind.period_kind)) for kind in kinds)
    ]
    if missing:
        for year in missing:
            ensure_year(year)
        rows = list(query.all())  # a fresh read: `query` keeps the first one
    dated = {
        (kind.key, year): kind.setting_dates(year)
        for kind in kinds
        if kind.setting_dates is not None
        for year in wanted_years
        if periods[(kind.key, year)]
    }
    for org in orgs:
        best: dict[tuple[str, str], Deadline] = {}
        for row in rows:
            if row.org is not None and not _covers(row.org, org):
                continue
            key = (row.kind, row.period)
            known = best.get(key)
            if known is None or (
                row.org is not None and (known.org is None or row.org.level > known.org.level)
            ):
                best[key] = row
        resolved = []
        for kind in kinds:
            for year in wanted_years:
                for period in periods[(kind.key, year)]:
                    row = best.get((kind.key, period.slug))
                    if row is None:
                        continue
                    item = Resolved(
                        kind=kind,
                        period=period,
                        due_on=row.due_on,
                        steps=tuple(row.steps or DEFAULT_STEPS),
                        set_at=row.org,
                        row=row,
                    )
                    if kind.setting_dates is not None:
                        item = _nearest_setting(item, org, dated[(kind.key, year)])
                    resolved.append(item)
        resolved.sort(key=lambda r: (r.due_on, r.kind.order))
        out[org.pk] = resolved
    return out


def _covers(above: Organization, org: Organization) -> bool:
    return above.tree_id == org.tree_id and above.lft <= org.lft and above.rght >= org.rght


def _nearest_setting(item: Resolved, org: Organization, dates) -> Resolved:
    nearest = None
    for at, due_on in dates:
        if _covers(at, org) and (nearest is None or at.level > nearest[0].level):
            nearest = (at, due_on)
    if nearest is None:
        return item
    return Resolved(
        kind=item.kind,
        period=item.period,
        due_on=nearest[1],
        steps=item.steps,
        set_at=nearest[0],
        row=None,
        from_setting=True,
    )


def deadline_for(*, org: Organization, kind: str, period: Period) -> Resolved:
    for resolved in calendar_for(org=org, year=period.year):
        if resolved.kind.key == kind and resolved.period == period:
            return resolved
    raise LookupError(f"no deadline {kind} {period.slug}")


# ---------------------------------------------------------------- steps


@dataclass(frozen=True)
class Due:
    """What a deadline asks of the sweep on a day."""

    step: str | None  # the reminder step due for the owing organisation's leaders
    escalations: tuple[str, ...] = field(default=())  # UP1 and/or UP2


def due_on_day(due_on: datetime.date, steps: Iterable[int], today: datetime.date) -> Due:
    """Which step of a deadline is due `today`: the latest step whose day has come, while the
    next step's day has not and for at most ACTIVE_DAYS (so a sweep that missed a day catches up,
    and an old deadline falls silent), a step before the date no later than the date itself; and
    which escalations are in their week."""
    marks = sorted({int(s) for s in steps}, reverse=True)  # 7, 1, -1: in time order
    step = None
    for i, days in enumerate(marks):
        start = due_on - datetime.timedelta(days=days)
        end = start + datetime.timedelta(days=ACTIVE_DAYS)
        if i + 1 < len(marks):
            end = min(end, due_on - datetime.timedelta(days=marks[i + 1]))
        if days > 0:
            # a reminder before the date is not caught up after it ("明天截止" on a late day)
            end = min(end, due_on + datetime.timedelta(days=1))
        if start <= today < end:
            step = step_key(days)
    escalations = []
    afters = sorted(ESCALATE_AFTER.items(), key=lambda item: item[1])
    for i, (name, after) in enumerate(afters):
        start = due_on + datetime.timedelta(days=after)
        end = start + datetime.timedelta(days=ACTIVE_DAYS)
        if i + 1 < len(afters):
            end = min(end, due_on + datetime.timedelta(days=afters[i + 1][1]))
        if start <= today < end:
            escalations.append(name)
    return Due(step=step, escalations=tuple(escalations))


def horizon(today: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The due dates a sweep on `today` can act on."""
    longest_before = STEP_RANGE[1]
    last_after = max(ESCALATE_AFTER.values()) + ACTIVE_DAYS - STEP_RANGE[0]
    return (
        today - datetime.timedelta(days=last_after),
        today + datetime.timedelta(days=longest_before),
    )


# ---------------------------------------------------------------- office changes


def clean_steps(steps) -> list[int]:
    try:
        values = sorted({int(s) for s in steps}, reverse=True)
    except (TypeError, ValueError):
        refuse("提醒时间须为整数天数。", "steps")
    if not values:
        refuse("请至少设置一个提醒时间。", "steps")
    if len(values) > MAX_STEPS:
        refuse(f"提醒时间最多{MAX_STEPS}个。", "steps")
    low, high = STEP_RANGE
    if any(not low <= v <= high for v in values) or 0 in values:
        refuse(f"提醒时间须在截止前{high}天到截止后{-low}天之间，且不能为0。", "steps")
    return values


@transaction.atomic
def deadline_set(
    *, by, org: Organization, kind: str, period: Period, due_on: datetime.date, steps
) -> Deadline:
    """Move a deadline for `org`'s subtree (CONFIGURE only); audited."""
    spec = _KINDS.get(kind)
    if spec is None or period.kind != spec.period_kind:
        refuse("没有这个截止事项。", "kind")
    if not can(by, Action.CONFIGURE, org):
        refuse(f"只有活动办公室工作人员可以设置{spec.label}的截止日期。")
    if spec.setting_dates is not None:
        refuse(f"{spec.label}的截止日期随年度承诺时间设置，请在承诺时间页面修改。", "due_on")
    if not is_campaign_year(period.year):
        refuse("年度有误。", "year")
    if (
        not isinstance(due_on, datetime.date)
        or isinstance(due_on, datetime.datetime)
        or due_on < period.start
        or (due_on - period.end).days > 366
    ):
        refuse(
            f"截止日期须在该期次开始（{period.start:%Y年%-m月%-d日}）之后、结束后一年之内。",
            "due_on",
        )
    values = clean_steps(steps)
    row = (
        Deadline.objects.select_for_update().filter(org=org, kind=kind, period=period.slug).first()
    )
    before = None if row is None else {"due_on": row.due_on.isoformat(), "steps": row.steps}
    if row is None:
        row = Deadline.objects.create(
            org=org,
            year=period.year,
            kind=kind,
            period=period.slug,
            due_on=due_on,
            steps=values,
            set_by=by,
        )
    else:
        row.due_on, row.steps, row.set_by = due_on, values, by
        row.save(update_fields=["due_on", "steps", "set_by", "updated_at"])
    audit(
        by=by,
        action="deadline_set",
        summary=f"设置{org.name} {period.label}{spec.label}截止日期为{due_on:%Y-%m-%d}",
        org=org,
        changes={
            "kind": kind,
            "period": period.slug,
            "before": before,
            "after": {"due_on": due_on.isoformat(), "steps": values},
        },
    )
    return row


@transaction.atomic
def deadline_clear(*, by, org: Organization, kind: str, period: Period) -> bool:
    """Drop `org`'s own date so the one above applies again (CONFIGURE only); audited."""
    spec = _KINDS.get(kind)
    if spec is None:
        refuse("没有这个截止事项。", "kind")
    if not can(by, Action.CONFIGURE, org):
        refuse(f"只有活动办公室工作人员可以设置{spec.label}的截止日期。")
    row = (
        Deadline.objects.select_for_update().filter(org=org, kind=kind, period=period.slug).first()
    )
    if row is None:
        return False
    before = {"due_on": row.due_on.isoformat(), "steps": row.steps}
    row.delete()
    audit(
        by=by,
        action="deadline_clear",
        summary=f"恢复{org.name} {period.label}{spec.label}截止日期为上级设置",
        org=org,
        changes={"kind": kind, "period": period.slug, "before": before, "after": None},
    )
    return True
