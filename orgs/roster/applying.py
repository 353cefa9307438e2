"""Applying a roster workbook: every row validated first, then all of it written in one
transaction through orgs.services, or nothing (RosterImportError names the row that failed).

Imports of one subtree run one at a time: the transaction starts by locking the import's scope
(`_lock_scope`), and the rows are checked against the database only after that, so the same file
imported twice at once (two tabs, two workers) is written once; the second finds the members the
first created and has nothing to change."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from orgs import services
from orgs.models import Organization
from orgs.roster.archive import ReadLimits
from orgs.roster.errors import RosterImportError, RowError
from orgs.roster.layout import MEMBER_SHEET, ORG_SHEET
from orgs.roster.parsing import MemberRow, OrgRow, Plan, read_plan
from orgs.roster.resolving import Resolver

logger = logging.getLogger(__name__)


@dataclass
class ImportResult:
    orgs_created: int = 0
    orgs_updated: int = 0
    orgs_moved: int = 0
    members_created: int = 0
    members_updated: int = 0
    members_transferred: int = 0
    secretaries_set: int = 0

    @property
    def changed(self) -> bool:
        return any(vars(self).values())

    def summary(self) -> str:
        return (
            f"新增组织 {self.orgs_created} 个，修改 {self.orgs_updated} 个，移动 {self.orgs_moved} 个；"
            f"新增党员 {self.members_created} 名，修改 {self.members_updated} 名，"
            f"转接 {self.members_transferred} 名；设定书记 {self.secretaries_set} 处。"
        )


def import_roster(
    stream: IO[bytes],
    *,
    by,
    root: Organization | None,
    limits: ReadLimits | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Validate the whole workbook, then apply it in one transaction; RosterImportError lists
    every problem by sheet, row and column and nothing is written.

    `root` limits the import to a subtree (the importing user's); None is the unrestricted import
    of the server's operator. `limits` defaults to a page upload's (see ReadLimits).
    `progress(done, total)`, when given, hears of the rows written now and then (a background
    job's page).
    """
    plan, errors = read_plan(stream, limits=limits)
    with transaction.atomic():
        root = _lock_scope(root)
        resolver = Resolver(plan, root, errors)
        resolver.check_orgs()
        existing = resolver.check_members()
        secretaries = resolver.secretaries(existing) if not errors else {}
        if errors:
            raise RosterImportError(
                sorted(errors, key=lambda e: (e.sheet != ORG_SHEET, e.sheet, e.row or 0))
            )
        total = len(plan.orgs) + len(plan.members) + len(secretaries)
        at = _Position(progress=progress, total=total)
        at.report()
        try:
            return _apply(
                plan,
                by=by,
                db_orgs=resolver.db_orgs,
                existing=existing,
                secretaries=secretaries,
                at=at,
            )
        except ValidationError as failure:
            reason = "；".join(m.rstrip("。") for m in failure.messages)
        except IntegrityError:
            logger.warning("roster import refused by the database", exc_info=True)
            reason = "与系统中已有的记录冲突（可能有人同时在修改）"
        except DatabaseError:
            logger.exception("roster import failed while writing")
            reason = "数据库暂时无法写入，请稍后重试"
        raise RosterImportError(
            [RowError(at.sheet, at.row, "", f"写入时出错：{reason}。未导入任何数据。")]
        )


def _lock_scope(root: Organization | None) -> Organization | None:
    """Hold the import's scope until the transaction ends; `root` read afresh after that.

    On PostgreSQL, advisory locks named by organisation: the root's taken exclusively, its
    ancestors' shared, top down. An import of the same subtree, or of one inside it, waits here
    until this one ends; imports of disjoint subtrees (two counties) run side by side. An
    unrestricted import takes every tree's top exclusively, so it waits for every other. Not
    row locks: every insert into the tree shifts the lft/rght of the rows after it, and two
    imports creating organisations would deadlock on each other's locked roots. SQLite writes
    one transaction at a time."""
    if root is None:
        if connection.vendor == "postgresql":
            tops = Organization.objects.filter(parent__isnull=True).order_by("pk")
            _advisory([(pk, True) for pk in tops.values_list("pk", flat=True)])
        return None
    fresh = Organization.objects.filter(pk=root.pk).first()
    if fresh is not None and connection.vendor == "postgresql":
        chain = fresh.get_ancestors().order_by("lft").values_list("pk", flat=True)
        _advisory([(pk, False) for pk in chain] + [(fresh.pk, True)])
        fresh = Organization.objects.filter(pk=root.pk).first()  # as the import before left it
    if fresh is None:
        raise RosterImportError([RowError("文件", None, "", "导入范围的党组织已不存在。")])
    return fresh


_SCOPE_LOCK = 7103  # the first key of the advisory locks on a roster import's scope


def _advisory(locks: list[tuple[int, bool]]) -> None:
    """Take the transaction-level advisory locks (organisation id, exclusive?), in order."""
    with connection.cursor() as cursor:
        for pk, exclusive in locks:
            function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
            cursor.execute(f"SELECT {function}(%s, %s)", [_SCOPE_LOCK, pk])


PROGRESS_EVERY = 200  # rows between two progress reports


@dataclass
class _Position:
    """The row being applied, to name it when the database or a service refuses it, and how
    many have been applied, for `progress`."""

    sheet: str = "文件"
    row: int | None = None
    progress: Callable[[int, int], None] | None = None
    total: int = 0
    done: int = 0

    def at(self, sheet: str, row: int | None) -> None:
        self.sheet, self.row = sheet, row
        self.done += 1
        if self.done % PROGRESS_EVERY == 0:
            self.report()

    def report(self) -> None:
        if self.progress is not None:
            self.progress(self.done, self.total)


def _ordered(orgs: list[OrgRow]) -> list[OrgRow]:
    """Parents before children."""
    by_code = {o.code: o for o in orgs}
    done: set[str] = set()
    ordered: list[OrgRow] = []

    def visit(o: OrgRow) -> None:
        if o.code in done:
            return
        done.add(o.code)
        if o.parent_code in by_code:
            visit(by_code[o.parent_code])
        ordered.append(o)

    for o in orgs:
        visit(o)
    return ordered


@transaction.atomic
def _apply(plan: Plan, *, by, db_orgs, existing, secretaries, at: _Position) -> ImportResult:
    result = ImportResult()
    orgs = dict(db_orgs)
    rows = {o.code: o.row for o in plan.orgs}
    for o in _ordered(plan.orgs):
        at.at(ORG_SHEET, o.row)
        parent = orgs.get(o.parent_code) if o.parent_code else None
        org = orgs.get(o.code)
        if org is None:
            orgs[o.code] = services.organization_create(
                by=by, parent=parent, name=o.name, code=o.code, kind=o.kind, sector=o.sector
            )
            result.orgs_created += 1
            continue
        if parent is not None and org.parent_id != parent.pk:
            org.refresh_from_db()
            parent.refresh_from_db()
            services.organization_move(by=by, org=org, new_parent=parent)
            result.orgs_moved += 1
        fields = {"name": o.name, "kind": o.kind, "sector": o.sector}
        if services.changes(org, fields):
            services.organization_update(by=by, org=org, **fields)
            result.orgs_updated += 1
    today = timezone.localdate()
    for m in plan.members:
        at.at(MEMBER_SHEET, m.row)
        org = orgs[m.org_code]
        found = existing.get(m.identity)
        if found is None:
            existing[m.identity] = services.member_create(by=by, org=org, since=today, **m.fields)
            result.members_created += 1
            continue
        if services.changes(found, m.fields):
            services.member_update(by=by, member=found, **m.fields)
            result.members_updated += 1
        if found.org_id != org.pk:
            services.member_transfer(by=by, member=found, to_org=org, on=today, note="花名册导入")
            result.members_transferred += 1
    for code, secretary in secretaries.items():
        at.at(ORG_SHEET, rows.get(code))
        if isinstance(secretary, MemberRow):
            secretary = existing[secretary.identity]
        org = orgs[code]
        if org.secretary_id != (secretary.pk if secretary else None):
            services.organization_update(by=by, org=org, secretary=secretary)
            result.secretaries_set += 1
    return result
