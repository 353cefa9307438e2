"""Reminders: the sweep that queues them, exactly once, and the sender that delivers the e-mail.

The sweep (`sweep`) runs every hour (config/celery.py) and by hand (`manage.py reminders_sweep`);
its day is Beijing's (`campaign_today`), whatever the clock of the machine. For each deadline with
a step due that day it asks the deadline's obligation rule for every organisation with work not
done (one grouped query per deadline, streamed; never member rows) and writes one `Reminder` per
(person, deadline, step) with all of that person's items, a deadline's rows in one transaction.
The unique key makes a second insert a no-op, so any number of sweeps, retries, restarts or beats
queue a reminder once (two sweeps at once insert in the same key order, so they wait for each
other instead of deadlocking); the row is the in-app notice at once. A deadline whose rule fails
is logged and left to the next sweep; the others are swept.

The sender (`send_due`) claims queued rows by a conditional update (SELECT … FOR UPDATE SKIP
LOCKED on PostgreSQL), checks the work again (an item done since is dropped; a reminder with
nothing left is cancelled), sends one e-mail per person with all their claimed reminders, and
records sent or failed; a failed row waits with backoff for a later run (never a long task
countdown). A claim older than CLAIM_LEASE is taken back: a sender killed between the SMTP
server accepting a message and the rows being marked can send that one digest twice; an in-app
notice is never doubled.
"""

from __future__ import annotations

import datetime
import json
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from orgs import deadlines
from orgs.deadlines import UP1, UP2, DeadlineKind, Gap, due_on_day, step_label
from orgs.models import (
    Deadline,
    EmailOptOut,
    EmailState,
    Organization,
    OrganizationUserObjectPermission,
    Reminder,
    Role,
)
from orgs.periods import YEAR_MAX, YEAR_MIN, Period

log = logging.getLogger(__name__)

BATCH = 1000  # outbox rows per insert
CLAIM_ROWS = 500  # rows per claim
CLAIM_LEASE = datetime.timedelta(minutes=15)
MAX_ATTEMPTS = 8
SEND_BUDGET_SECONDS = 240  # one sender run stops after this and leaves the rest to the next
ESCALATION_ROLES = {UP1: (Role.SECRETARY, Role.OFFICE), UP2: (Role.OFFICE,)}


def backoff(attempts: int) -> datetime.timedelta:
    """5 minutes after the first failure, doubling, at most 6 hours."""
    return min(
        datetime.timedelta(minutes=5) * 2 ** max(attempts - 1, 0), datetime.timedelta(hours=6)
    )


# ---------------------------------------------------------------- the sweep


@dataclass
class SweepResult:
    today: datetime.date
    deadlines: list[str] = field(default_factory=list)  # "kind period" swept
    gaps: int = 0
    queued: int = 0  # rows offered to the outbox (those already there are skipped)
    created: int = 0  # rows the outbox did not have before
    failed: list[str] = field(default_factory=list)  # "kind period" whose rule raised (logged)


class _Tree:
    """Each organisation's parent, level and name, read once per sweep (one streamed query)."""

    def __init__(self):
        self.parent: dict[int, int | None] = {}
        self.name: dict[int, str] = {}
        rows = Organization.objects.values_list("id", "parent_id", "name").iterator(chunk_size=5000)
        for pk, parent_id, name in rows:
            self.parent[pk] = parent_id
            self.name[pk] = name

    def up(self, org_id: int, steps: int) -> int | None:
        for _ in range(steps):
            org_id = self.parent.get(org_id)
            if org_id is None:
                return None
        return org_id


class _Holders:
    """Who holds which role directly at each organisation (one streamed query)."""

    def __init__(self, roles: Iterable[str]):
        self.by_org: dict[int, list[tuple[int, str]]] = defaultdict(list)
        codenames = {Role(r).codename: Role(r) for r in set(roles)}
        rows = (
            OrganizationUserObjectPermission.objects.filter(
                permission__codename__in=list(codenames), user__is_active=True
            )
            .values_list("content_object_id", "user_id", "permission__codename")
            .iterator(chunk_size=5000)
        )
        for org_id, user_id, codename in rows:
            self.by_org[org_id].append((user_id, codenames[codename]))

    def at(self, org_id: int | None, roles: Iterable[str]) -> list[int]:
        if org_id is None:
            return []
        wanted = set(roles)
        return sorted({user for user, role in self.by_org.get(org_id, ()) if role in wanted})


def _dates(kind: DeadlineKind, period: Period) -> tuple[Deadline | None, dict[int, tuple]]:
    """The default row and the organisations' own dates for one deadline."""
    default = None
    own: dict[int, tuple] = {}
    for row in Deadline.objects.filter(kind=kind.key, period=period.slug):
        if row.org_id is None:
            default = row
        else:
            own[row.org_id] = (row.due_on, tuple(row.steps or deadlines.DEFAULT_STEPS))
    if kind.setting_dates is not None:
        steps = tuple(default.steps) if default else deadlines.DEFAULT_STEPS
        for org, due_on in kind.setting_dates(period.year):
            own[org.pk] = (due_on, steps)
    return default, own


def _candidates(today: datetime.date) -> list[tuple[DeadlineKind, Period]]:
    """The deadlines whose date (anywhere) is near enough to `today` for a step to be due."""
    low, high = deadlines.horizon(today)
    years = [y for y in range(low.year - 1, high.year + 1) if YEAR_MIN <= y <= YEAR_MAX]
    for year in years:
        deadlines.ensure_year(year)
    kinds = {k.key: k for k in deadlines.deadline_kinds() if k.gaps is not None}
    seen = set()
    for kind_key, slug in Deadline.objects.filter(
        kind__in=list(kinds), due_on__gte=low, due_on__lte=high
    ).values_list("kind", "period"):
        seen.add((kind_key, slug))
    for kind in kinds.values():
        if kind.setting_dates is None:
            continue
        for year in years:
            for _org, due_on in kind.setting_dates(year):
                if low <= due_on <= high:
                    seen.add((kind.key, Period.whole_year(year).slug))
    out = []
    for kind_key, slug in sorted(seen):
        try:
            period = Period.parse(slug)
        except ValueError:
            continue
        out.append((kinds[kind_key], period))
    return out


def campaign_today() -> datetime.date:
    """Today in the campaign's time zone (settings.TIME_ZONE, Asia/Shanghai), whatever zone the
    process or the request has activated: a step due on 31 March is due from 00:00 Beijing time."""
    return timezone.localdate(timezone=timezone.get_default_timezone())


def _roles_to_read() -> set[str]:
    roles = {role for kind in deadlines.deadline_kinds() for role in kind.roles}
    return roles | {role for roles in ESCALATION_ROLES.values() for role in roles}


def sweep(*, today: datetime.date | None = None) -> SweepResult:
    """Queue every reminder due on `today` (Asia/Shanghai's date by default). Safe to run any
    number of times, in parallel too: the outbox keeps one row per (person, deadline, step).

    Each deadline is swept on its own: one whose obligation rule raises is logged and listed in
    `failed`, and the others are still swept."""
    today = today or campaign_today()
    result = SweepResult(today=today)
    tree = holders = None
    for kind, period in _candidates(today):
        default, own = _dates(kind, period)
        if default is None and not own:
            continue
        dues = {}
        if default is not None:
            dues[None] = due_on_day(default.due_on, default.steps or deadlines.DEFAULT_STEPS, today)
        for org_id, (due_on, steps) in own.items():
            dues[org_id] = due_on_day(due_on, steps, today)
        if not any(d.step or d.escalations for d in dues.values()):
            continue
        if tree is None:
            tree, holders = _Tree(), _Holders(_roles_to_read())
        name = f"{kind.key} {period.slug}"
        result.deadlines.append(name)
        try:
            # a deadline's rows are queued all together or not at all
            with transaction.atomic():
                gaps, queued, created = _sweep_deadline(
                    kind, period, default, own, tree, holders, today
                )
        except Exception:
            log.exception("reminders sweep: deadline %s failed", name)
            result.failed.append(name)
            continue
        result.gaps += gaps
        result.queued += queued
        result.created += created
    return result


def _effective(org_id: int, own: dict, default, tree: _Tree, memo: dict):
    """The (due_on, steps) that applies at `org_id`: its own or its nearest ancestor's, else the
    default."""
    if org_id in memo:
        return memo[org_id]
    chain = []
    at = org_id
    found = None
    while at is not None:
        if at in memo:
            found = memo[at]
            break
        chain.append(at)
        if at in own:
            found = own[at]
            break
        at = tree.parent.get(at)
    if found is None and default is not None:
        found = (default.due_on, tuple(default.steps or deadlines.DEFAULT_STEPS))
    for pk in chain:
        memo[pk] = found
    return found


def _sweep_deadline(kind, period, default, own, tree, holders, today) -> tuple[int, int, int]:
    """Queue one deadline's reminders: (gaps found, rows offered, rows new)."""
    memo: dict = {}
    due_memo: dict = {}
    # (user, step, due date) -> items. The date is part of the key: organisations under one
    # person can have different dates (an office moved one), and each date's steps come in turn.
    outbox: dict[tuple[int, str, datetime.date], list] = {}
    gaps = 0

    def offer(user_id: int, step: str, due_on: datetime.date, item: dict) -> None:
        outbox.setdefault((user_id, step, due_on), []).append(item)

    gap: Gap
    for gap in kind.gaps(period, None):
        effective = _effective(gap.org_id, own, default, tree, memo)
        if effective is None:
            continue
        due_on, steps = effective
        due = due_memo.get(effective)
        if due is None:
            due = due_memo[effective] = due_on_day(due_on, steps, today)
        if not (due.step or due.escalations):
            continue
        gaps += 1
        item = {
            "org": gap.org_id,
            "org_name": tree.name.get(gap.org_id, ""),
            "text": gap.text,
            "count": gap.count,
            "url": gap.url,
        }
        owing = holders.at(gap.org_id, kind.roles) if due.step else []
        for user_id in owing:
            offer(user_id, due.step, due_on, item)
        late = (today - due_on).days
        for step in due.escalations:
            target = tree.up(gap.org_id, 1 if step == UP1 else 2)
            for user_id in holders.at(target, ESCALATION_ROLES[step]):
                if user_id not in owing:  # a leader of both hears of the gap once
                    offer(user_id, step, due_on, item | {"late": late})
    # the rows already queued by an earlier sweep are skipped before anything is built for them
    # (two integers and a short string per row, read in one streamed query)
    queued = set(
        Reminder.objects.filter(kind=kind.key, period=period.slug)
        .values_list("user_id", "step", "due_on")
        .iterator(chunk_size=10000)
    )
    # Every sweep inserts in the same key order, so two sweeps running at once wait for each
    # other's rows instead of deadlocking on them (PostgreSQL).
    keys = sorted(key for key in outbox if key not in queued)
    del queued
    now = timezone.now()
    if connection.vendor == "postgresql":
        created = _copy_in(kind.key, period.slug, keys, outbox, now)
    else:
        created = 0
        for start in range(0, len(keys), BATCH):
            rows = []
            for user_id, step, due_on in keys[start : start + BATCH]:
                items = outbox[(user_id, step, due_on)]
                rows.append(
                    Reminder(
                        user_id=user_id,
                        kind=kind.key,
                        period=period.slug,
                        step=step,
                        due_on=due_on,
                        items=items,
                        next_attempt_at=now,
                    )
                )
            created += _insert(rows)
    return gaps, len(outbox), created


def _insert(rows: list[Reminder]) -> int:
    """Insert the rows the outbox does not have yet; how many were new.

    `bulk_create(ignore_conflicts=True)` cannot tell which rows were new, so this is the same
    INSERT … ON CONFLICT DO NOTHING with RETURNING (PostgreSQL, SQLite 3.35+): exact even while
    another sweep inserts the same rows."""
    fields = [f for f in Reminder._meta.concrete_fields if not f.primary_key]
    qn = connection.ops.quote_name
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (
        f"INSERT INTO {qn(Reminder._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
        f"VALUES {', '.join([one] * len(rows))} "
        f"ON CONFLICT DO NOTHING RETURNING {qn(Reminder._meta.pk.column)}"
    )
    params = [f.get_db_prep_save(f.pre_save(row, True), connection) for row in rows for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return len(cursor.fetchall())


def _copy_in(kind: str, period: str, keys: list, outbox: dict, now) -> int:
    """PostgreSQL: COPY the new rows into a temporary table, then one INSERT … SELECT … ON
    CONFLICT DO NOTHING in key order; how many were new. (Building a model instance and a
    parameter list per row costs most of a province-wide sweep's time.)"""
    if not keys:
        return 0
    table = connection.ops.quote_name(Reminder._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE reminder_in (user_id integer, step varchar(8), "
            "due_on date, items text) ON COMMIT DROP"
        )
        with cursor.cursor.copy(
            "COPY reminder_in (user_id, step, due_on, items) FROM STDIN"
        ) as copy:
            for user_id, step, due_on in keys:
                items = json.dumps(outbox[(user_id, step, due_on)], ensure_ascii=False)
                copy.write_row((user_id, step, due_on, items))
        cursor.execute(
            f"INSERT INTO {table} (user_id, kind, period, step, due_on, items, created_at, "
            "email_state, attempts, next_attempt_at, claim, last_error) "
            "SELECT user_id, %s, %s, step, due_on, items::jsonb, %s, %s, 0, %s, '', '' "
            "FROM reminder_in ORDER BY user_id, step, due_on ON CONFLICT DO NOTHING",
            [kind, period, now, EmailState.QUEUED, now],
        )
        created = cursor.rowcount
        cursor.execute("DROP TABLE reminder_in")
    return created


# ---------------------------------------------------------------- the sender


@dataclass
class SendResult:
    messages: int = 0
    sent: int = 0  # reminder rows delivered by e-mail
    skipped: int = 0  # no address or e-mail turned off
    cancelled: int = 0  # the work was done since
    failed: int = 0  # to be retried (or given up after MAX_ATTEMPTS)


def _claim(now) -> tuple[str, list[Reminder]]:
    """Take a batch of queued rows, whole users at a time, for this sender alone; `now` is the
    run's clock for what is due, the claim is stamped with the time it is taken."""
    claim = uuid.uuid4().hex
    with transaction.atomic():
        picked = list(
            Reminder.objects.select_for_update(skip_locked=True)
            .filter(email_state=EmailState.QUEUED)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .order_by("user_id", "id")
            .values_list("id", "user_id")[:CLAIM_ROWS]
        )
        if not picked:
            return claim, []
        if len(picked) == CLAIM_ROWS and picked[0][1] != picked[-1][1]:
            last_user = picked[-1][1]
            picked = [(pk, user) for pk, user in picked if user != last_user]
        # the state in the condition makes the claim safe where rows are not locked (SQLite)
        Reminder.objects.filter(
            id__in=[pk for pk, _ in picked], email_state=EmailState.QUEUED
        ).update(email_state=EmailState.SENDING, claim=claim, claimed_at=timezone.now())
    rows = list(
        Reminder.objects.filter(claim=claim, email_state=EmailState.SENDING)
        .select_related("user")
        .order_by("user_id", "due_on", "id")
    )
    return claim, rows


def _recheck(rows: list[Reminder], now) -> tuple[list[Reminder], int]:
    """Drop the items done since the rows were queued and bring the rest up to date (an item is
    one gap: its organisation and the page where the work is done); the rows left with nothing
    are done."""
    wanted: dict[tuple[str, str], set[int]] = defaultdict(set)
    for row in rows:
        wanted[(row.kind, row.period)].update(item["org"] for item in row.items)
    # (kind, period) -> {(org, url): gap still open}, or None: keep the items as queued
    still: dict[tuple[str, str], dict | None] = {}
    for (kind_key, slug), org_ids in wanted.items():
        try:
            kind = deadlines.deadline_kind(kind_key)
            period = Period.parse(slug)
        except (KeyError, ValueError):
            still[(kind_key, slug)] = None
            continue
        if kind.gaps is None:
            still[(kind_key, slug)] = None
            continue
        try:
            still[(kind_key, slug)] = {
                (gap.org_id, gap.url): gap for gap in kind.gaps(period, org_ids)
            }
        except Exception:
            # a reminder for work perhaps done is better than none for work not done
            log.exception("reminders: rechecking %s %s failed; sending as queued", kind_key, slug)
            still[(kind_key, slug)] = None
    holds = _still_held(rows)
    open_rows, done = [], 0
    for row in rows:
        gaps = still[(row.kind, row.period)]
        left = []
        for item in row.items:
            if not holds(row, item):
                continue  # the person no longer leads where the work is owed
            if gaps is None:
                left.append(item)
                continue
            gap = gaps.get((item["org"], item.get("url")))
            if gap is not None:
                left.append(item | {"text": gap.text, "count": gap.count})
        if not left:
            Reminder.objects.filter(pk=row.pk, claim=row.claim).update(
                email_state=EmailState.CANCELLED, done_at=now, claim=""
            )
            done += 1
            continue
        if left != row.items:
            row.items = left
            Reminder.objects.filter(pk=row.pk).update(items=left)
        open_rows.append(row)
    return open_rows, done


def _still_held(rows: list[Reminder]):
    """f(row, item): whether the row's person still holds, where the item's work is owed, a role
    that the sweep would remind them for — the kind's roles at the owing organisation, or the
    escalation's roles one or two levels up (two or three queries for the whole batch)."""
    held: dict[int, set[tuple[int, str]]] = defaultdict(set)
    for user_id, org_id, codename in OrganizationUserObjectPermission.objects.filter(
        user_id__in={row.user_id for row in rows}, user__is_active=True
    ).values_list("user_id", "content_object_id", "permission__codename"):
        held[user_id].add((org_id, codename.removeprefix("role_")))
    escalated = {item["org"] for row in rows if row.step in (UP1, UP2) for item in row.items}
    parent: dict[int, int | None] = {}
    if escalated:
        parent = dict(Organization.objects.filter(pk__in=escalated).values_list("pk", "parent_id"))
        above = {p for p in parent.values() if p is not None} - set(parent)
        if above and any(row.step == UP2 for row in rows):
            parent |= dict(Organization.objects.filter(pk__in=above).values_list("pk", "parent_id"))

    def holds(row: Reminder, item: dict) -> bool:
        if row.step in (UP1, UP2):
            at = parent.get(item["org"])
            if row.step == UP2 and at is not None:
                at = parent.get(at)
            roles = ESCALATION_ROLES[row.step]
        else:
            at = item["org"]
            try:
                roles = deadlines.deadline_kind(row.kind).roles
            except KeyError:
                return True
        return any((at, str(role)) in held[row.user_id] for role in roles)

    return holds


def digest(user, rows: list[Reminder]) -> EmailMessage:
    """One e-mail for all of a person's reminders in this run."""
    base = settings.SITE_URL.rstrip("/")
    count = sum(len(row.items) for row in rows)
    lines = [f"{user.get_full_name() or user.get_username()}：", "", "以下工作请及时办理：", ""]
    for row in rows:
        try:
            kind = deadlines.deadline_kind(row.kind)
            label = kind.label
        except KeyError:
            label = row.kind
        try:
            period = Period.parse(row.period).label
        except ValueError:
            period = row.period
        lines.append(
            f"【{label}（{period}）】截止 {row.due_on:%Y年%-m月%-d日}，{step_label(row.step)}"
        )
        for item in row.items:
            late = f"（逾期{item['late']}天）" if item.get("late") else ""
            lines.append(f"  · {item['org_name']}：{item['text']}{late}")
            lines.append(f"    {base}{item['url']}")
        lines.append("")
    lines += [
        f"站内通知：{base}{reverse('notices:list')}",
        f"不想收到某类提醒的邮件，可在通知设置中关闭：{base}{reverse('notices:settings')}",
    ]
    return EmailMessage(
        subject=f"创先争优工作提醒：{count}项待办",
        body="\n".join(lines),
        to=[user.email],
    )


def send_due(*, now=None, budget_seconds: float = SEND_BUDGET_SECONDS) -> SendResult:
    """Deliver the queued reminders by e-mail, one message per person; see the module text."""
    result = SendResult()
    now = now or timezone.now()
    Reminder.objects.filter(
        email_state=EmailState.SENDING, claimed_at__lt=now - CLAIM_LEASE
    ).update(email_state=EmailState.QUEUED, claim="")
    started = time.monotonic()
    mailer = None
    try:
        while time.monotonic() - started < budget_seconds:
            claim, rows = _claim(now)
            if not rows:
                break
            rows, done = _recheck(rows, now)
            result.cancelled += done
            by_user: dict[int, list[Reminder]] = defaultdict(list)
            for row in rows:
                by_user[row.user_id].append(row)
            opted = set(
                EmailOptOut.objects.filter(user_id__in=list(by_user)).values_list("user_id", "kind")
            )
            for user_rows in by_user.values():
                if time.monotonic() - started >= budget_seconds:
                    # out of time: the rows not yet sent go back for the next run
                    Reminder.objects.filter(
                        pk__in=[r.pk for r in user_rows],
                        claim=claim,
                        email_state=EmailState.SENDING,
                    ).update(email_state=EmailState.QUEUED, claim="")
                    continue
                user = user_rows[0].user
                wanted = [r for r in user_rows if (user.pk, r.kind) not in opted]
                unwanted = [r for r in user_rows if (user.pk, r.kind) in opted]
                if not user.email or not user.is_active:
                    unwanted, wanted = user_rows, []
                if unwanted:
                    Reminder.objects.filter(pk__in=[r.pk for r in unwanted], claim=claim).update(
                        email_state=EmailState.SKIPPED, claim=""
                    )
                    result.skipped += len(unwanted)
                if not wanted:
                    continue
                ids = [r.pk for r in wanted]
                message = digest(user, wanted)
                # renew the claim just before sending: if another sender has taken the rows back
                # (this one was slower than CLAIM_LEASE), they are no longer this one's to send
                renewed = Reminder.objects.filter(
                    pk__in=ids, claim=claim, email_state=EmailState.SENDING
                ).update(claimed_at=timezone.now())
                if renewed != len(ids):
                    Reminder.objects.filter(
                        pk__in=ids, claim=claim, email_state=EmailState.SENDING
                    ).update(email_state=EmailState.QUEUED, claim="")
                    continue
                if mailer is None:
                    mailer = get_connection()
                message.connection = mailer
                try:
                    message.send()
                except Exception as exc:  # noqa: BLE001 - any SMTP or network failure is retried
                    log.warning("reminder e-mail to user %s failed: %s", user.pk, exc)
                    _failed(wanted, claim, now, str(exc) or exc.__class__.__name__)
                    result.failed += len(wanted)
                    _close(mailer)
                    mailer = None
                    continue
                Reminder.objects.filter(pk__in=ids, claim=claim).update(
                    email_state=EmailState.SENT, sent_at=timezone.now(), claim="", last_error=""
                )
                result.messages += 1
                result.sent += len(wanted)
    finally:
        _close(mailer)
    return result


def _close(mailer) -> None:
    if mailer is None:
        return
    try:
        mailer.close()
    except Exception:  # noqa: BLE001 - a connection that broke cannot be closed cleanly
        pass


def _failed(rows: list[Reminder], claim: str, now, error: str) -> None:
    for row in rows:
        attempts = row.attempts + 1
        state = EmailState.FAILED if attempts >= MAX_ATTEMPTS else EmailState.QUEUED
        Reminder.objects.filter(pk=row.pk, claim=claim).update(
            email_state=state,
            attempts=attempts,
            next_attempt_at=now + backoff(attempts),
            last_error=error[:500],
            claim="",
        )


# ---------------------------------------------------------------- reading


def unread_count(user) -> int:
    return Reminder.objects.filter(user=user, read_at=None, done_at=None).count()
