"""Checking a roster plan against the database before anything is written: parents and kinds,
the importer's scope, members matched by identity, and each organisation's named secretary."""

from __future__ import annotations

from collections import defaultdict

from django.db import connection
from django.utils import timezone

from orgs import selectors
from orgs.models import (
    MEMBER_HOLDING_KINDS,
    Member,
    Membership,
    Organization,
    OrgKind,
    kind_allowed_under,
)
from orgs.roster.errors import RowError
from orgs.roster.layout import MEMBER_SHEET, ORG_SHEET
from orgs.roster.parsing import MemberRow, OrgRow, Plan


def _in_range(org: Organization, root: Organization) -> bool:
    return org.tree_id == root.tree_id and root.lft <= org.lft <= root.rght


class Resolver:
    """Checks the plan against the database: parents, kinds, scope, identities, secretaries."""

    def __init__(self, plan: Plan, root: Organization | None, errors: list[RowError]):
        self.plan, self.root, self.errors = plan, root, errors
        self.file_orgs = {o.code: o for o in plan.orgs}
        codes = set(self.file_orgs) | {o.parent_code for o in plan.orgs if o.parent_code}
        codes |= {m.org_code for m in plan.members}
        self.db_orgs = {o.code: o for o in Organization.objects.filter(code__in=codes)}

    def inside(self, code: str) -> bool:
        """Whether `code` ends up inside the import's scope (an unrestricted import has none)."""
        if self.root is None:
            return True
        seen = set()
        while code in self.file_orgs and code not in seen:
            seen.add(code)
            if code == self.root.code:
                return True
            code = self.file_orgs[code].parent_code
        org = self.db_orgs.get(code)
        return org is not None and _in_range(org, self.root)

    def final_kind(self, code: str) -> str | None:
        if code in self.file_orgs:
            return self.file_orgs[code].kind
        org = self.db_orgs.get(code)
        return org.kind if org else None

    def check_orgs(self) -> None:
        for o in self.plan.orgs:
            existing = self.db_orgs.get(o.code)
            if self.root is not None:
                if existing is not None and not _in_range(existing, self.root):
                    self._org_error(
                        o, "组织代码", f"“{o.code}”不在您可导入的范围（{self.root.name}）内。"
                    )
                    continue
                if existing is not None and existing.pk == self.root.pk:
                    if o.parent_code != (existing.parent.code if existing.parent_id else ""):
                        self._org_error(
                            o, "上级组织代码", "不能改变导入范围最高一级组织的上级组织。"
                        )
                    continue
            if not o.parent_code:
                if existing is not None and existing.parent_id is None:
                    continue
                if self.root is not None:
                    self._org_error(o, "上级组织代码", "不能为空。")
                continue
            if o.parent_code not in self.file_orgs and o.parent_code not in self.db_orgs:
                self._org_error(o, "上级组织代码", f"找不到组织代码为“{o.parent_code}”的上级组织。")
                continue
            if not self.inside(o.parent_code):
                self._org_error(o, "上级组织代码", f"“{o.parent_code}”不在您可导入的范围内。")
                continue
            parent_kind = self.final_kind(o.parent_code)
            if not kind_allowed_under(o.kind, parent_kind):
                self._org_error(
                    o,
                    "组织类别",
                    f"“{OrgKind(o.kind).label}”不能设在“{OrgKind(parent_kind).label}”之下。",
                )
        self._check_cycles()

    def _check_cycles(self) -> None:
        for o in self.plan.orgs:
            code, steps = o.parent_code, 0
            while code in self.file_orgs and steps <= len(self.file_orgs):
                if code == o.code:
                    self._org_error(o, "上级组织代码", "上下级关系形成了循环。")
                    break
                code, steps = self.file_orgs[code].parent_code, steps + 1
            else:
                existing_parent = self.db_orgs.get(code)
                existing = self.db_orgs.get(o.code)
                if existing and existing_parent and existing.tree_id == existing_parent.tree_id:
                    if existing.lft <= existing_parent.lft <= existing.rght and code != o.code:
                        self._org_error(o, "上级组织代码", "不能移到本组织的下级组织之下。")

    def _org_error(self, o: OrgRow, column: str, message: str) -> None:
        self.errors.append(RowError(ORG_SHEET, o.row, column, message))

    def check_members(self) -> dict[tuple, Member]:
        """Validate the member rows; returns the existing members matched by identity."""
        existing: dict[tuple, Member] = {}
        identities = sorted({m.identity for m in self.plan.members})
        table = connection.ops.quote_name(Member._meta.db_table)
        for start in range(0, len(identities), 500):
            batch = identities[start : start + 500]
            rows = ", ".join(["(%s, %s, %s)"] * len(batch))
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT id FROM {table} WHERE (name, birth_date, joined_on) IN ({rows})",
                    [value for identity in batch for value in identity],
                )
                ids = [row[0] for row in cursor.fetchall()]
            for member in Member.objects.filter(pk__in=ids).select_related("org"):
                existing[(member.name, member.birth_date, member.joined_on)] = member
        open_since = dict(
            Membership.objects.filter(
                member_id__in=[m.pk for m in existing.values()], end__isnull=True
            ).values_list("member_id", "start")
        )
        today = timezone.localdate()
        for m in self.plan.members:
            code = m.org_code
            if code not in self.file_orgs and code not in self.db_orgs:
                self._member_error(m, "所在党组织代码", f"找不到组织代码为“{code}”的党组织。")
                continue
            if not self.inside(code):
                self._member_error(m, "所在党组织代码", f"“{code}”不在您可导入的范围内。")
                continue
            if self.final_kind(code) not in MEMBER_HOLDING_KINDS:
                label = OrgKind(self.final_kind(code)).label
                self._member_error(
                    m, "所在党组织代码", f"党员应编入党委、党总支或党支部，“{code}”是{label}。"
                )
                continue
            found = existing.get(m.identity)
            if found is None:
                continue
            if self.root is not None and not _in_range(found.org, self.root):
                self._member_error(
                    m,
                    "姓名",
                    "该党员的组织关系在您管理范围以外的党组织，请由其所在组织办理转接。",
                )
                continue
            if found.org.code != code and open_since.get(found.pk, today) >= today:
                self._member_error(
                    m, "所在党组织代码", "该党员今天已办理过组织关系转接，请明天再导入。"
                )
        return existing

    def _member_error(self, m: MemberRow, column: str, message: str) -> None:
        self.errors.append(RowError(MEMBER_SHEET, m.row, column, message))

    def secretaries(self, existing: dict[tuple, Member]) -> dict[str, Member | MemberRow | None]:
        """For each organisation row, its secretary: the member of that name whom
        orgs.selectors.secretary_candidates allows on the tree the workbook leaves behind (one on
        the organisation's own roll before one on a child's)."""
        wanted = [o for o in self.plan.orgs if o.secretary_name]
        result: dict[str, Member | MemberRow | None] = {
            o.code: None for o in self.plan.orgs if not o.secretary_name
        }
        if not wanted:
            return result
        # each organisation's parent once the file is applied: the file's, else the database's
        # (read for the children of the organisations that name a secretary)
        parent_of = {o.code: o.parent_code for o in self.plan.orgs}
        db_parent_codes = [o.code for o in wanted if o.code in self.db_orgs]
        for code, parent_code in Organization.objects.filter(
            parent__code__in=db_parent_codes
        ).values_list("code", "parent__code"):
            parent_of.setdefault(code, parent_code)
        wanted_codes = {o.code for o in wanted}
        below: dict[str, list[str]] = defaultdict(list)  # the children a secretary may come from
        for code in sorted(parent_of):
            for post in selectors.secretary_posts(member_org=code, parent=parent_of[code]):
                if post in wanted_codes and post != code:
                    below[post].append(code)
        file_by_identity = {m.identity: m for m in self.plan.members}
        candidates: dict[tuple[str, str], list] = defaultdict(list)
        for m in self.plan.members:
            candidates[(m.org_code, m.fields["name"])].append(m)
        scope_codes = wanted_codes.union(*below.values())
        db_members = Member.objects.filter(
            org__code__in=scope_codes, name__in={o.secretary_name for o in wanted}
        ).select_related("org")
        for member in db_members:
            if (member.name, member.birth_date, member.joined_on) not in file_by_identity:
                candidates[(member.org.code, member.name)].append(member)
        for o in wanted:
            own = candidates[(o.code, o.secretary_name)]
            pool = own or [
                c for child in below[o.code] for c in candidates[(child, o.secretary_name)]
            ]
            if not pool:
                self._org_error(
                    o, "书记姓名", f"本组织及直属下级组织中没有名为“{o.secretary_name}”的党员。"
                )
            elif len(pool) > 1:
                self._org_error(
                    o,
                    "书记姓名",
                    f"名为“{o.secretary_name}”的党员有{len(pool)}名，无法确定是哪一位。",
                )
            else:
                result[o.code] = pool[0]
        return result
