"""What a person reads and sets about the campaign calendar: their in-app notices, the kinds of
reminder they take by e-mail, the secret address of their .ics feed, the calendar of their
organisations, and the work falling due (the home page's 截止事项).

The notices are the reminder outbox rows (orgs.reminders): a person sees and marks only their
own. Dates come from the one calendar (orgs.deadlines: the default rows and the offices' own, the
nearest above an organisation winning); the work still open from each deadline kind's obligation
rule (`gaps`), the same rule the reminders sweep asks, so a to-do and a reminder never disagree.
"""

from __future__ import annotations

import datetime
import re
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from orgs import extensions
from orgs.access import Action, can, grants_for, object_id
from orgs.deadlines import (
    DeadlineKind,
    Resolved,
    calendars,
    deadline_kind,
    deadline_kinds,
    due_on_day,
    horizon,
    step_label,
)
from orgs.models import CalendarFeed, EmailOptOut, Organization, Reminder
from orgs.periods import Period, is_campaign_year
from orgs.refusals import refuse
from orgs.selectors import user_organizations

# the home page's 截止事项: deadlines this many days ahead, and overdue ones this many days back
DUE_WINDOW_DAYS = 30
# the calendar page's next date and overdue work: this many days either way of today
CALENDAR_REACH_DAYS = 366
# the .ics feed: deadlines passed this many days ago stay in it (and a year ahead)
FEED_PAST_DAYS = 60
# orgs.deadlines.deadline_set keeps a date within a year of its period's end; the default dates
# and the dates other settings give (the pledge window: inside its year) stay within it too, so
# the deadlines falling due on a day are read from the periods ending within this of it
DUE_REACH = datetime.timedelta(days=366)
FEED_TOKEN_BYTES = 32
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,64}")


# ---------------------------------------------------------------- notices


def notices_of(*, user) -> QuerySet[Reminder]:
    """The user's own notices, newest first."""
    return Reminder.objects.filter(user=user).order_by("-created_at", "-id")


def get_notice_for_user(user, pk) -> Reminder:
    """The notice `pk` if it is the user's own; anyone else's is a 404."""
    notice = Reminder.objects.filter(pk=object_id(pk), user_id=user.pk).first()
    if notice is None:
        raise Http404("没有找到该通知。")
    return notice


def unread_notices(*, user) -> QuerySet[Reminder]:
    """The notices the bell counts: not read, and their work not done since."""
    return Reminder.objects.filter(user=user, read_at=None, done_at=None)


def notice_mark_read(*, notice: Reminder, by) -> bool:
    """Mark one of `by`'s own notices read; False when it was already."""
    if notice.user_id != by.pk:
        refuse("只能标记自己的通知。")
    return bool(
        Reminder.objects.filter(pk=notice.pk, user_id=by.pk, read_at=None).update(
            read_at=timezone.now()
        )
    )


def notices_mark_all_read(*, by) -> int:
    """Mark every unread notice of `by` read; how many were."""
    return Reminder.objects.filter(user_id=by.pk, read_at=None).update(read_at=timezone.now())


@dataclass(frozen=True)
class NoticeItem:
    org_name: str
    text: str
    count: int
    url: str
    late: int  # days past the date (an escalation), else 0


@dataclass(frozen=True)
class NoticeRow:
    notice: Reminder
    kind_label: str
    period_label: str
    step_label: str
    items: list[NoticeItem]

    @property
    def is_done(self) -> bool:
        return self.notice.done_at is not None

    @property
    def is_unread(self) -> bool:
        return self.notice.read_at is None and self.notice.done_at is None


def notice_rows(notices: Iterable[Reminder]) -> list[NoticeRow]:
    """The notices with their labels (no query beyond reading `notices`)."""
    rows = []
    for notice in notices:
        try:
            kind_label = deadline_kind(notice.kind).label
        except KeyError:  # a kind no app declares any longer
            kind_label = notice.kind
        try:
            period_label = Period.parse(notice.period).label
        except ValueError:
            period_label = notice.period
        try:
            step = step_label(notice.step)
        except ValueError:
            step = notice.step
        items = [
            NoticeItem(
                org_name=str(item.get("org_name", "")),
                text=str(item.get("text", "")),
                count=int(item.get("count") or 0),
                url=_local_url(item.get("url")),
                late=int(item.get("late") or 0),
            )
            for item in notice.items or []
            if isinstance(item, dict)
        ]
        rows.append(NoticeRow(notice, kind_label, period_label, step, items))
    return rows


def _local_url(url) -> str:
    """An item's link, kept on this site: a path, or nothing."""
    text = str(url or "")
    parts = urlsplit(text)
    if parts.scheme or parts.netloc or not text.startswith("/") or text.startswith("//"):
        return ""
    return text


# ---------------------------------------------------------------- e-mail preferences


@dataclass(frozen=True)
class EmailChoice:
    kind: DeadlineKind
    by_email: bool

    @property
    def reminds(self) -> bool:
        """Whether anyone is reminded of this kind yet (it has an obligation rule)."""
        return self.kind.gaps is not None


def email_preferences(*, user) -> list[EmailChoice]:
    """Every kind of deadline, and whether the user takes its reminders by e-mail (one query)."""
    off = set(EmailOptOut.objects.filter(user=user).values_list("kind", flat=True))
    return [EmailChoice(kind, kind.key not in off) for kind in deadline_kinds()]


def email_preferences_set(*, user, by_email: Iterable[str]) -> list[str]:
    """Take the reminders of the kinds in `by_email` by e-mail and no others (in-app notices
    always come); the keys of the kinds turned off. Unknown keys are ignored."""
    known = {kind.key for kind in deadline_kinds()}
    off = sorted(known - set(by_email))
    EmailOptOut.objects.filter(user=user).exclude(kind__in=off).delete()
    EmailOptOut.objects.bulk_create(
        [EmailOptOut(user=user, kind=key) for key in off], ignore_conflicts=True
    )
    return off


# ---------------------------------------------------------------- the feed's address


def calendar_feed_for(*, user) -> CalendarFeed:
    """The user's feed, its secret token made on first use."""
    feed = CalendarFeed.objects.filter(user=user).first()
    if feed is None:
        feed, _ = CalendarFeed.objects.get_or_create(
            user=user, defaults={"token": secrets.token_urlsafe(FEED_TOKEN_BYTES)}
        )
    return feed


def calendar_feed_reset(*, user) -> CalendarFeed:
    """Give the user's feed a new token: the old address stops answering."""
    feed, _ = CalendarFeed.objects.update_or_create(
        user=user, defaults={"token": secrets.token_urlsafe(FEED_TOKEN_BYTES)}
    )
    return feed


def feed_url(feed: CalendarFeed) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("notices:feed", args=[feed.token])


def feed_owner(*, token: str):
    """The active user whose feed has `token`, else None (one unique-index lookup)."""
    if not isinstance(token, str) or not _TOKEN_SHAPE.fullmatch(token):
        return None
    feed = (
        CalendarFeed.objects.select_related("user")
        .filter(token=token, user__is_active=True)
        .first()
    )
    return None if feed is None else feed.user


# ---------------------------------------------------------------- calendars


def calendars_for(
    *, orgs: Sequence[Organization], years: Iterable[int]
) -> dict[int, list[Resolved]]:
    """orgs.deadlines.calendar_for for several organisations and years at once, by organisation
    id, each in date order: one query for every row that applies, and one call of each
    setting-dated kind's dates per year — whatever the number of organisations and deadlines.
    A year whose default calendar is not written yet is written first (orgs.deadlines.ensure_year)
    and the rows read again."""
    return calendars(orgs=orgs, years=years)


def calendars_between(
    *, orgs: Sequence[Organization], low: datetime.date, high: datetime.date
) -> dict[int, list[Resolved]]:
    """The deadlines falling due from `low` to `high` (both included) at each organisation,
    whatever their period's year (the fourth quarter's fall due in January, and an office can
    move a date up to a year from its period's end), by organisation id, in date order. The
    cost of calendars_for: one query for the rows, and each setting-dated kind's dates for the
    years whose periods can fall due in the window."""

    def reaches(period: Period) -> bool:
        return _may_fall_due(period, low, high)

    found = calendars(orgs=orgs, years=_years_reaching(low, high), keep=reaches)
    return {pk: [r for r in rows if low <= r.due_on <= high] for pk, rows in found.items()}


def _may_fall_due(period: Period, low: datetime.date, high: datetime.date) -> bool:
    return low - DUE_REACH <= period.end <= high + DUE_REACH


def _years_reaching(low: datetime.date, high: datetime.date) -> list[int]:
    """The years whose periods can fall due from `low` to `high`."""
    first, last = (low - DUE_REACH).year, (high + DUE_REACH).year
    return [year for year in range(first, last + 1) if is_campaign_year(year)]


def steps_text(steps: Iterable[int]) -> str:
    """7, 1, -1 → "7,1,-1": how the office form shows and takes the steps."""
    return ",".join(str(s) for s in sorted(set(steps), reverse=True))


def steps_label(steps: Iterable[int]) -> str:
    """7, 1, -1 → "截止前7天、前1天，逾期1天"."""
    values = sorted(set(steps), reverse=True)
    before = [s for s in values if s > 0]
    after = [-s for s in values if s < 0]
    parts = []
    if before:
        parts.append("截止前" + "、".join(f"{s}天" for s in before))
    if after:
        parts.append("逾期" + "、".join(f"{s}天" for s in after))
    return "，".join(parts) or "不提醒"


def _led_org_ids(user, kind: DeadlineKind) -> set[int]:
    """The organisations where `user` holds one of the kind's roles directly: whose work of this
    kind the user owes (no query beyond the cached grants)."""
    roles = set(kind.roles)
    return {g.org_id for g in grants_for(user) if g.role in roles}


@dataclass(frozen=True)
class DueItem:
    """Work still open for a deadline at one of the user's organisations."""

    kind: DeadlineKind
    period: Period
    due_on: datetime.date
    org_id: int
    org_name: str
    text: str
    url: str
    count: int
    days_left: int  # negative: days late

    @property
    def kind_label(self) -> str:
        return self.kind.label

    @property
    def is_late(self) -> bool:
        return self.days_left < 0

    @property
    def days_late(self) -> int:
        return -self.days_left


def _owed_org_ids(user) -> set[int]:
    """The organisations where the user owes the work of some kind with an obligation rule."""
    owed: set[int] = set()
    for kind in deadline_kinds():
        if kind.gaps is not None:
            owed |= _led_org_ids(user, kind)
    return owed


def _open_work(
    *,
    user,
    by_id: dict[int, Organization],
    calendars: dict[int, list[Resolved]],
    today: datetime.date,
    pick,
) -> list[DueItem]:
    """The work open at the organisations `user` owes it for (`by_id`, with their
    `calendars`): for each kind with an obligation rule, the periods `pick(kind, [(org,
    resolved)])` chooses are asked for their gaps (one call of the rule per kind and period
    chosen)."""
    kinds = [kind for kind in deadline_kinds() if kind.gaps is not None]
    led = {kind.key: _led_org_ids(user, kind) for kind in kinds}
    items = []
    for kind in kinds:
        mine = [
            (by_id[org_id], resolved)
            for org_id in sorted(led[kind.key] & by_id.keys())
            for resolved in calendars[org_id]
            if resolved.kind.key == kind.key
        ]
        chosen: dict[Period, dict[int, datetime.date]] = defaultdict(dict)
        for org, resolved in pick(kind, mine):
            chosen[resolved.period][org.pk] = resolved.due_on
        for period in sorted(chosen):
            due = chosen[period]
            for gap in kind.gaps(period, set(due)):
                if gap.org_id not in due:
                    continue
                items.append(
                    DueItem(
                        kind=kind,
                        period=period,
                        due_on=due[gap.org_id],
                        org_id=gap.org_id,
                        org_name=by_id[gap.org_id].name,
                        text=gap.text,
                        url=gap.url,
                        count=gap.count,
                        days_left=(due[gap.org_id] - today).days,
                    )
                )
    items.sort(key=lambda i: (i.due_on, i.kind.order, i.org_name, i.text))
    return items


def due_work(
    *, user, today: datetime.date, orgs: Iterable[Organization] | None = None
) -> list[DueItem]:
    """The home page's 截止事项: for the organisations where the user holds a deadline kind's
    roles directly, the work still open for every deadline of that kind due within the next
    DUE_WINDOW_DAYS or passed at most DUE_WINDOW_DAYS ago, or with one of its reminder steps due
    today (orgs.deadlines.due_on_day, the sweep's rule: the page lists whatever the sweep
    reminds the user of), soonest first. Deadlines are chosen by their date, whatever their
    period's year.

    `orgs`: the user's organisations when the page has read them already (else one query).
    Costs one query for the calendar rows of the years read, each setting-dated kind's dates
    for each year whose periods can fall due near today, and one call of each kind's obligation
    rule per period chosen (at most one per kind with the circulars' dates); nothing at all for
    a user who owes no work.
    """
    owed = _owed_org_ids(user)
    if not owed:
        return []
    if orgs is None:
        orgs = user_organizations(user=user)
    by_id = {org.pk: org for org in orgs if org.pk in owed}
    window = datetime.timedelta(days=DUE_WINDOW_DAYS)
    first, last = horizon(today)  # every date the sweep can remind of today
    low, high = min(first, today - window), max(last, today + window)

    def near(kind, mine):
        return [
            (org, r)
            for org, r in mine
            if abs((r.due_on - today).days) <= DUE_WINDOW_DAYS
            or due_on_day(r.due_on, r.steps, today).step is not None
        ]

    calendars = calendars_between(orgs=list(by_id.values()), low=low, high=high)
    return _open_work(user=user, by_id=by_id, calendars=calendars, today=today, pick=near)


@dataclass
class OrgCalendar:
    org: Organization
    deadlines: list[Resolved]
    next_due: list[Resolved]  # the nearest date still to come (every deadline on it)
    may_configure: bool


@dataclass
class CalendarPage:
    year: int
    calendars: list[OrgCalendar]
    overdue: list[DueItem] = field(default_factory=list)


def calendar_page(*, user, year: int, today: datetime.date) -> CalendarPage:
    """The calendar of the user's organisations for `year`: every deadline of the year's periods
    as it applies to each; and, whatever the year shown, the next date to come within
    CALENDAR_REACH_DAYS and the overdue work still open at the organisations the user leads (for
    each kind and organisation, its last period whose date passed within CALENDAR_REACH_DAYS,
    whatever that period's year: in January the fourth quarter's work is overdue).

    Queries: the organisations, the rows that apply, each setting-dated kind's dates for each
    year read, and one call of each kind's obligation rule per period chosen (one per kind when
    the organisations share their dates) — not one per organisation or deadline."""
    orgs = list(user_organizations(user=user))
    reach = datetime.timedelta(days=CALENDAR_REACH_DAYS)
    low, high = today - reach, today + reach

    def keep(period: Period) -> bool:
        return period.year == year or _may_fall_due(period, low, high)

    found = calendars(orgs=orgs, years=[year, *_years_reaching(low, high)], keep=keep)
    page = CalendarPage(year=year, calendars=[])
    for org in orgs:
        rows = found[org.pk]
        coming = [r for r in rows if today <= r.due_on <= high]
        first = coming[0].due_on if coming else None
        page.calendars.append(
            OrgCalendar(
                org=org,
                deadlines=[r for r in rows if r.period.year == year],
                next_due=[r for r in coming if r.due_on == first],
                may_configure=can(user, Action.CONFIGURE, org),
            )
        )

    def last_passed(kind, mine):
        latest: dict[int, tuple[Organization, Resolved]] = {}
        for org, r in mine:
            if low <= r.due_on < today:
                known = latest.get(org.pk)
                if known is None or r.period > known[1].period:
                    latest[org.pk] = (org, r)
        return list(latest.values())

    owed = _owed_org_ids(user)
    by_id = {org.pk: org for org in orgs if org.pk in owed}
    page.overdue = _open_work(
        user=user, by_id=by_id, calendars=found, today=today, pick=last_passed
    )
    return page


def org_calendar(*, org: Organization, year: int) -> list[Resolved]:
    """The year's deadlines as they apply to `org`, for the office page that changes them."""
    return calendars_for(orgs=[org], years=[year])[org.pk]


# ---------------------------------------------------------------- the .ics feed


def _ics_text(value: str) -> str:
    """RFC 5545 §3.3.11: backslash, semicolon, comma and line breaks escaped."""
    return (
        str(value)
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\r", "\\n")
        .replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """RFC 5545 §3.1: lines of at most 75 octets, continued after CRLF and a space; a UTF-8
    character is never split."""
    parts, current, size = [], [], 0
    for char in line:
        octets = len(char.encode("utf-8"))
        limit = 75 if not parts else 74  # a continuation line starts with the space
        if size + octets > limit:
            parts.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += octets
    parts.append("".join(current))
    return "\r\n ".join(parts)


def _a_year_after(day: datetime.date) -> datetime.date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def calendar_ics(*, user, today: datetime.date) -> str:
    """The user's .ics feed: one all-day event per deadline of each of the user's organisations
    falling due from FEED_PAST_DAYS ago to a year ahead, whatever its period's year (on 5 January
    the fourth quarter's dates are still to come), each with a UID that stays the same when its
    date moves."""
    orgs = list(user_organizations(user=user))
    low = today - datetime.timedelta(days=FEED_PAST_DAYS)
    calendars = calendars_between(orgs=orgs, low=low, high=_a_year_after(today))
    base = settings.SITE_URL.rstrip("/")
    host = urlsplit(base).hostname or "cxzy"
    page = base + reverse("notices:calendar")
    stamp = timezone.now().astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//cxzy//campaign calendar//ZH",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:" + _ics_text("创先争优截止日期"),
        "X-WR-TIMEZONE:Asia/Shanghai",
    ]
    for org in orgs:
        for r in calendars[org.pk]:
            where = "默认" if r.set_at is None else f"{r.set_at.name}设置"
            description = "\n".join(
                [
                    f"{org.name}：{r.kind.label}（{r.period.label}）",
                    f"日期来源：{where}；提醒：{steps_label(r.steps)}",
                    page,
                ]
            )
            lines += [
                "BEGIN:VEVENT",
                f"UID:{r.kind.key}-{r.period.slug}-org{org.pk}@{host}",
                f"DTSTAMP:{stamp}",
                f"DTSTART;VALUE=DATE:{r.due_on:%Y%m%d}",
                f"DTEND;VALUE=DATE:{r.due_on + datetime.timedelta(days=1):%Y%m%d}",
                "SUMMARY:" + _ics_text(f"{r.kind.label}（{r.period.label}）截止 · {org.name}"),
                "DESCRIPTION:" + _ics_text(description),
                "URL:" + page,
                "TRANSP:TRANSPARENT",
                "END:VEVENT",
            ]
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)


# ---------------------------------------------------------------- the organisation page's link


def org_links(user, org: Organization) -> list[dict]:
    """The office's link from an organisation page to the dates it sets for the subtree."""
    if not can(user, Action.CONFIGURE, org):
        return []
    return [{"text": "截止日期设置", "url": reverse("notices:org_calendar", args=[org.pk])}]


def register() -> None:
    """Offer the organisation page's link (called once from orgs' AppConfig.ready)."""
    if org_links not in extensions.org_link_providers:
        extensions.org_link_providers.append(org_links)
