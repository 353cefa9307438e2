"""The records a signature holds, and the database triggers that hold them on every path.

When a section is signed, ledgers.services writes a Lock row (source, object id) for every record
the signed snapshot was built from; withdrawing the signature deletes them. While a lock holds,
triggers refuse a change to the record's signed columns and its deletion — whatever makes it: a
page, a service, the admin, QuerySet.update, bulk_update or raw SQL. A change of other columns
passes (Django's save() writes every column, so only a value that really changes is refused).

- SOURCES: each source's table, the columns it holds, and how a message names the record.
- describe(source, ids): the refusal for orgs.locks.refuse_if_locked, which the services call
  before writing, so that a page answers on its form.
- install / uninstall: the triggers, for PostgreSQL and SQLite (migration 0002_locks). SQLite
  rebuilds a table to alter it and its triggers go with it, so after every migrate the triggers
  that are missing are put back (register() connects that). A change to SOURCES or to the
  signature's columns reaches existing databases through a new migration that runs install()
  again (it replaces every trigger).

On PostgreSQL one function (ledgers_lock_refuse) raises integrity_constraint_violation with the
same sentence describe() writes, naming the signer, capacity and date. SQLite's RAISE takes only a
literal, so there the message names the kind of record and not the signer. Every trigger message
starts with orgs.locks.LOCK_MARKER.

The signature table holds itself: a signature never changes except to record its withdrawal once
(withdrawn_at with who and why, in one update), and is never deleted. SQLite lets a signature go
once its ledger row is gone, for `manage.py flush` (see ledgers/management/commands/flush.py).
A Lock row never changes either.
"""

from __future__ import annotations

import datetime
import string
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Q
from django.db.models.signals import post_migrate
from django.utils import timezone

from ledgers import sections as S
from ledgers.models import Ledger, Lock, Signature
from orgs import locks as registry
from orgs.locks import LOCK_MARKER
from orgs.periods import Period

# pledges.models.PLEDGED: a held pledge may move on among these (approved → published →
# evaluated), never back out of them (tests/test_ledgers_locks.py holds the two equal)
PLEDGED = ("approved", "published", "evaluated")


@dataclass(frozen=True)
class Source:
    table: str
    columns: tuple[str, ...]  # a change of any of these is refused
    noun: str  # how a refusal names one such record
    # column -> a further condition on NEW (the same SQL on both databases) for its change to be
    # refused
    only_when: dict[str, str] = field(default_factory=dict)

    @property
    def held(self) -> tuple[str, ...]:
        # the primary key too: a held row renumbered would slip out of its lock
        return ("id", *self.columns, *self.only_when)


SOURCES: dict[str, Source] = {
    "pledge": Source(
        "pledges_pledge",
        (
            "content",
            "target",
            "due_date",
            "is_oral",
            "kind",
            "year",
            "category",
            "owner_member_id",
            "owner_org_id",
        ),
        "这项承诺",
        {"status": "NEW.status NOT IN ({})".format(", ".join(f"'{s}'" for s in PLEDGED))},
    ),  # fmt: skip
    "fulfilment": Source(
        "pledges_fulfilment",
        ("text", "status", "reason", "year", "period", "pledge_id"),
        "这期承诺兑现情况",
    ),
    "review": Source(
        "reviews_leaderreview",
        (
            "achievements",
            "shortcomings",
            "direction",
            "reviewer_name",
            "reviewer_post",
            "reviewed_on",
            "method",
            "status",
            "subject_member_id",
            "subject_org_id",
            "year",
            "period",
        ),
        "这份领导点评",
    ),  # fmt: skip
    "exemption": Source("reviews_exemption", ("reason", "year", "period"), "这项免予点评"),
    "subject": Source(
        "reviews_appraisalsubject", ("final_grade", "counts", "name"), "这项民主评议结果"
    ),
    "appraisal": Source(
        "reviews_appraisal",
        ("tally", "state", "excluded", "year", "published_at"),
        "这次民主评议的计票结果",
    ),
    "member": Source(
        "orgs_member",
        ("name", "gender", "ethnicity", "birth_date", "joined_on", "education", "post"),
        "该党员的写实簿表头（姓名、性别、民族、出生年月、入党时间、文化程度、现任职务）",
    ),
    "note": Source(
        "ledgers_ledgernote", ("text", "kind", "section", "ledger_id"), "这段写实簿填写内容"
    ),
}

MESSAGE = (
    "{noun}已写入{ledger}的“{section}”，由{signer}（{capacity}）于{date}签字，{hold}不能修改或删除。"
    "如需修改，请先由签字人或上级党组织书记撤回签字。"
)
SQLITE_MESSAGE = (
    "{noun}已写入写实簿并已签字，不能修改或删除。如需修改，请先由签字人或上级党组织书记撤回签字。"
)
SIGNATURE_CHANGED = (
    "写实簿的签字记录（签字内容、签字人和日期）不能修改；如需更正，请写明理由撤回签字后重新签字。"
)
SIGNATURE_WITHDRAWN = "这次签字已经撤回，签字和撤回记录都不能再修改。"
SIGNATURE_DELETED = (
    "写实簿的签字记录不能删除；如需撤回，请由签字人或上级党组织书记写明理由撤回签字。"
)
LOCK_CHANGED = "写实簿签字锁定的记录清单不能修改。"
LOCK_DELETED = "签字未撤回，其锁定的记录清单不能删除。"
WITHDRAWAL_FIELDS = ("withdrawn_at", "withdrawn_by", "withdrawn_name", "withdraw_reason")


def _date(day: datetime.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def section_label(kind: str, key: str) -> str:
    """How a refusal names a section: 公开承诺事项, 第一季度承诺兑现情况, 上半年领导点评, 年度写实."""
    try:
        spec = S.section_spec(kind, key)
    except KeyError:
        return key
    if spec.is_review:
        return f"{Period(2000, spec.period_kind, spec.number).short_label}领导点评"
    if spec.builds_from == S.YEAR_END:
        return spec.group
    return spec.heading


def describe(source: str, ids: list[int]) -> str | None:
    """The refusal of a change to the records `ids` of `source`, naming the earliest live
    signature that holds one of them; None when none is held today."""
    if source not in SOURCES:
        return None
    lock = (
        Lock.objects.filter(source=source, object_id__in=ids, signature__withdrawn_at__isnull=True)
        .filter(Q(until__isnull=True) | Q(until__gte=timezone.localdate()))
        .select_related("signature__ledger__member", "signature__ledger__subject_org")
        .order_by("signature__signed_on", "signature_id")
        .first()
    )
    if lock is None:
        return None
    signature = lock.signature
    return MESSAGE.format(
        noun=SOURCES[source].noun,
        ledger=str(signature.ledger),
        section=section_label(signature.ledger.kind, signature.section),
        signer=signature.signer_name,
        capacity=signature.capacity,
        date=_date(signature.signed_on),
        hold=f"{_date(lock.until)}前" if lock.until else "",
    )


def register() -> None:
    """Offer the locks to the foundation, and keep the triggers in place after each migrate."""
    if describe not in registry.lock_describers:
        registry.lock_describers.append(describe)
    for name, source in SOURCES.items():
        registry.locked_fields[name] = frozenset(source.held)
    post_migrate.connect(_restore_after_migrate, dispatch_uid="ledgers.locks.restore")


# ---------------------------------------------------------------- the triggers


@dataclass(frozen=True)
class Trigger:
    name: str
    table: str
    create: str


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _q(name: str) -> str:
    return f'"{name}"'


def _today(pg: bool) -> str:
    if pg:
        return f"(now() AT TIME ZONE {_literal(settings.TIME_ZONE)})::date"
    # SQLite knows no zone names: the offset of the site's zone (Asia/Shanghai keeps no DST)
    offset = timezone.now().astimezone(ZoneInfo(settings.TIME_ZONE)).utcoffset()
    return f"date('now', '{int(offset.total_seconds() // 60):+d} minutes')"


def _differs(pg: bool, columns) -> str:
    op = "IS DISTINCT FROM" if pg else "IS NOT"
    return " OR ".join(f"OLD.{_q(c)} {op} NEW.{_q(c)}" for c in columns)


def _changed(pg: bool, source: Source) -> str:
    parts = [_differs(pg, ("id", *source.columns))]
    parts += [f"(({_differs(pg, [c])}) AND {cond})" for c, cond in source.only_when.items()]
    return " OR ".join(parts)


def _live_lock(pg: bool, source_sql: str) -> str:
    """The conditions for a live lock `l` (joined to its signature `s`) on OLD's row."""
    return (
        f"l.source = {source_sql} AND l.object_id = OLD.id AND s.withdrawn_at IS NULL "
        f"AND (l.until IS NULL OR l.until >= {_today(pg)})"
    )


LOCKS_FROM = "ledgers_lock l JOIN ledgers_signature s ON s.id = l.signature_id"


def _pg_message() -> str:
    """MESSAGE as a PostgreSQL expression over `hit`, the row ledgers_lock_refuse finds."""
    day = """'YYYY"年"FMMM"月"FMDD"日"'"""
    nouns = " ".join(f"WHEN {_literal(k)} THEN {_literal(s.noun)}" for k, s in SOURCES.items())
    sections = " ".join(
        f"WHEN {_literal(f'{kind}:{spec.key}')} THEN {_literal(section_label(kind, spec.key))}"
        for kind in ("member", "org")
        for spec in S.sections_of(kind)
    )
    values = {
        "noun": f"CASE TG_ARGV[0] {nouns} ELSE '该记录' END",
        "ledger": "hit.subject || ' ' || hit.year || '年度写实簿'",
        "section": f"CASE hit.kind || ':' || hit.section {sections} ELSE hit.section END",
        "signer": "hit.signer_name",
        "capacity": "hit.capacity",
        "date": f"to_char(hit.signed_on, {day})",
        "hold": f"CASE WHEN hit.until IS NULL THEN '' ELSE to_char(hit.until, {day}) || '前' END",
    }
    parts = [_literal(LOCK_MARKER)]
    for text, name, _spec, _conversion in string.Formatter().parse(MESSAGE):
        if text:
            parts.append(_literal(text))
        if name:
            parts.append(f"coalesce({values[name]}, '')")
    return " || ".join(parts)


def _pg_functions() -> list[str]:
    """ledgers_lock_refuse(source): refuse if a live lock holds OLD's row, naming the signature;
    ledgers_refuse(message): refuse with the message (the trigger's WHEN decides)."""
    return [
        f"""CREATE OR REPLACE FUNCTION ledgers_lock_refuse() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    hit record;
BEGIN
    SELECT s.signer_name, s.capacity, s.signed_on, s.section, l.until, g.kind, g.year,
           coalesce(m.name, o.name) AS subject
      INTO hit
      FROM {LOCKS_FROM}
      JOIN ledgers_ledger g ON g.id = s.ledger_id
      LEFT JOIN orgs_member m ON m.id = g.member_id
      LEFT JOIN orgs_organization o ON o.id = g.subject_org_id
     WHERE {_live_lock(True, "TG_ARGV[0]")}
     ORDER BY s.signed_on, s.id
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'integrity_constraint_violation',
            MESSAGE = {_pg_message()};
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$fn$""",
        """CREATE OR REPLACE FUNCTION ledgers_refuse() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'integrity_constraint_violation', MESSAGE = TG_ARGV[0];
END
$fn$""",
        # PostgreSQL allows no subquery in a trigger's WHEN: the lock rows' delete guard asks
        # inside the function whether their signature still stands
        f"""CREATE OR REPLACE FUNCTION ledgers_lock_row_guard() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF EXISTS (SELECT 1 FROM {Signature._meta.db_table}
                WHERE id = OLD.signature_id AND withdrawn_at IS NULL) THEN
        RAISE EXCEPTION USING ERRCODE = 'integrity_constraint_violation', MESSAGE = TG_ARGV[0];
    END IF;
    RETURN OLD;
END
$fn$""",
    ]


def _refusing(pg: bool, message: str, *, when: str | None) -> str:
    """The end of a CREATE TRIGGER that refuses with `message` (a constant) when `when` holds."""
    message = LOCK_MARKER + message
    condition = f" WHEN ({when})" if when else ""
    if pg:
        return f"FOR EACH ROW{condition} EXECUTE FUNCTION ledgers_refuse({_literal(message)})"
    return f"FOR EACH ROW{condition} BEGIN SELECT RAISE(ABORT, {_literal(message)}); END"


def _source_triggers(pg: bool) -> list[Trigger]:
    found = []
    for name, source in SOURCES.items():
        columns = ", ".join(_q(c) for c in source.held)
        update = f"BEFORE UPDATE OF {columns} ON {_q(source.table)}"
        delete = f"BEFORE DELETE ON {_q(source.table)}"
        upd, dele = f"ledgers_held_{name}_upd", f"ledgers_held_{name}_del"
        if pg:
            run = f"FOR EACH ROW EXECUTE FUNCTION ledgers_lock_refuse({_literal(name)})"
            found.append(
                Trigger(
                    upd,
                    source.table,
                    f"CREATE TRIGGER {upd} {update} FOR EACH ROW WHEN ({_changed(pg, source)}) "
                    f"EXECUTE FUNCTION ledgers_lock_refuse({_literal(name)})",
                )
            )
            found.append(Trigger(dele, source.table, f"CREATE TRIGGER {dele} {delete} {run}"))
            continue
        held = f"EXISTS (SELECT 1 FROM {LOCKS_FROM} WHERE {_live_lock(pg, _literal(name))})"
        message = SQLITE_MESSAGE.format(noun=source.noun)
        found.append(
            Trigger(
                upd,
                source.table,
                f"CREATE TRIGGER {upd} {update} "
                + _refusing(pg, message, when=f"({_changed(pg, source)}) AND {held}"),
            )
        )
        found.append(
            Trigger(
                dele,
                source.table,
                f"CREATE TRIGGER {dele} {delete} " + _refusing(pg, message, when=held),
            )
        )
    return found


def _columns(model, names=None) -> list[str]:
    return [f.column for f in model._meta.concrete_fields if names is None or f.name in names]


def _guard_triggers(pg: bool) -> list[Trigger]:
    """The signature and lock tables hold themselves."""
    table = Signature._meta.db_table
    every = _columns(Signature)
    withdrawal = _columns(Signature, WITHDRAWAL_FIELDS)
    content = [c for c in every if c not in withdrawal]
    if pg:
        minus = _literal("{" + ",".join(withdrawal) + "}") + "::text[]"
        any_change = "OLD.* IS DISTINCT FROM NEW.*"
        content_change = f"(to_jsonb(OLD) - {minus}) IS DISTINCT FROM (to_jsonb(NEW) - {minus})"
        delete_when = None
    else:
        any_change = _differs(pg, every)
        content_change = _differs(pg, content)
        # SQLite's flush deletes table by table: a signature goes once its ledger has gone
        ledgers = Ledger._meta.db_table
        delete_when = f"EXISTS (SELECT 1 FROM {ledgers} WHERE id = OLD.ledger_id)"
    lock_table = Lock._meta.db_table
    lock_change = "OLD.* IS DISTINCT FROM NEW.*" if pg else _differs(pg, _columns(Lock))
    return [
        Trigger(
            "ledgers_signature_withdrawn_upd",
            table,
            f"CREATE TRIGGER ledgers_signature_withdrawn_upd BEFORE UPDATE ON {table} "
            + _refusing(
                pg, SIGNATURE_WITHDRAWN, when=f"OLD.withdrawn_at IS NOT NULL AND ({any_change})"
            ),
        ),
        Trigger(
            "ledgers_signature_upd",
            table,
            f"CREATE TRIGGER ledgers_signature_upd BEFORE UPDATE ON {table} "
            + _refusing(
                pg,
                SIGNATURE_CHANGED,
                # the withdrawal columns change only together with withdrawn_at, from NULL
                # and a withdrawal names who withdrew and why (the service's rule, on every path)
                when=f"OLD.withdrawn_at IS NULL AND (({content_change}) OR "
                f"(NEW.withdrawn_at IS NULL AND ({_differs(pg, withdrawal)})) OR "
                "(NEW.withdrawn_at IS NOT NULL AND (NEW.withdrawn_by_id IS NULL OR "
                "NEW.withdrawn_name = '' OR NEW.withdraw_reason = '')))",
            ),
        ),
        Trigger(
            "ledgers_signature_del",
            table,
            f"CREATE TRIGGER ledgers_signature_del BEFORE DELETE ON {table} "
            + _refusing(pg, SIGNATURE_DELETED, when=delete_when),
        ),
        Trigger(
            "ledgers_lock_upd",
            lock_table,
            f"CREATE TRIGGER ledgers_lock_upd BEFORE UPDATE ON {lock_table} "
            + _refusing(pg, LOCK_CHANGED, when=lock_change),
        ),
        # a withdrawal sets withdrawn_at, which releases the locks; the rows stay as the record
        # of what the signature held, and cannot be deleted to release a live one
        Trigger(
            "ledgers_lock_del",
            lock_table,
            f"CREATE TRIGGER ledgers_lock_del BEFORE DELETE ON {lock_table} "
            + (
                "FOR EACH ROW EXECUTE FUNCTION ledgers_lock_row_guard("
                f"{_literal(LOCK_MARKER + LOCK_DELETED)})"
                if pg
                else _refusing(
                    pg,
                    LOCK_DELETED,
                    when=f"EXISTS (SELECT 1 FROM {table} WHERE id = OLD.signature_id "
                    "AND withdrawn_at IS NULL)",
                )
            ),
        ),
    ]


def triggers(vendor: str) -> list[Trigger]:
    """Every trigger of the locks on `vendor` ("postgresql" or "sqlite"; none elsewhere)."""
    if vendor not in ("postgresql", "sqlite"):
        return []
    pg = vendor == "postgresql"
    return _source_triggers(pg) + _guard_triggers(pg)


def install_sql(vendor: str) -> list[str]:
    """The statements that put every trigger in place, replacing any there."""
    statements = _pg_functions() if vendor == "postgresql" else []
    for trigger in triggers(vendor):
        on = f" ON {_q(trigger.table)}" if vendor == "postgresql" else ""
        statements += [f"DROP TRIGGER IF EXISTS {trigger.name}{on}", trigger.create]
    return statements


def uninstall_sql(vendor: str) -> list[str]:
    statements = []
    for trigger in triggers(vendor):
        on = f" ON {_q(trigger.table)}" if vendor == "postgresql" else ""
        statements.append(f"DROP TRIGGER IF EXISTS {trigger.name}{on}")
    if vendor == "postgresql":
        statements += [
            "DROP FUNCTION IF EXISTS ledgers_lock_refuse()",
            "DROP FUNCTION IF EXISTS ledgers_refuse()",
            "DROP FUNCTION IF EXISTS ledgers_lock_row_guard()",
        ]
    return statements


def install(schema_editor) -> None:
    """Migration 0002_locks, forwards (and again after any migrate that lost a trigger)."""
    for sql in install_sql(schema_editor.connection.vendor):
        schema_editor.execute(sql, params=None)


def uninstall(schema_editor) -> None:
    """Migration 0002_locks, backwards."""
    for sql in uninstall_sql(schema_editor.connection.vendor):
        schema_editor.execute(sql, params=None)


def installed_triggers(connection) -> set[str]:
    """The names of the lock triggers in the database."""
    if connection.vendor == "postgresql":
        sql = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 'ledgers%%'"
    elif connection.vendor == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'ledgers%%'"
    else:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(sql, [])
        return {row[0] for row in cursor.fetchall()}


MIGRATION = ("ledgers", "0002_locks")


def _restore_after_migrate(sender, using=DEFAULT_DB_ALIAS, **kwargs) -> None:
    """SQLite alters a table by rebuilding it, which drops its triggers: after each migrate the
    lock triggers that are missing are put back (while 0002_locks stands applied)."""
    if sender.name != "ledgers":
        return
    connection = connections[using]
    expected = {t.name for t in triggers(connection.vendor)}
    if not expected or expected <= installed_triggers(connection):
        return
    from django.db.migrations.recorder import MigrationRecorder

    if MIGRATION not in MigrationRecorder(connection).applied_migrations():
        return
    with connection.cursor() as cursor:
        for sql in install_sql(connection.vendor):
            cursor.execute(sql)
