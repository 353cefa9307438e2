"""What the 写实簿 adds to the other pages: links on the organisation and member pages, the
secretaries' and members' to-dos on the home page, and the page rules of its routes (so a
breadcrumb links a ledger page only for those who may open it)."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from ledgers import access, selectors
from ledgers import sections as S
from ledgers.assembly import member_ledgers, org_ledgers
from ledgers.models import LedgerKind
from ledgers.views import grid_members, keeps_members, keeps_orgs, ledger_year, sign_choice
from orgs import access as org_access
from orgs import extensions
from orgs.access import LEADING, Action, grants_for
from orgs.models import Organization
from orgs.selectors import own_member


def _reads_grid(user, org: Organization, kind: str) -> bool:
    keeps = keeps_members(org) if kind == LedgerKind.MEMBER else keeps_orgs(org)
    return keeps and org_access.can(user, Action.EXPORT, org)


def org_links(user, org: Organization) -> list[dict]:
    """The grids the organisation keeps, and its own ledger: no query beyond the grants."""
    year = ledger_year(timezone.localdate())
    links = []
    if _reads_grid(user, org, LedgerKind.MEMBER):
        links.append(
            {"text": f"{year}年党员写实簿", "url": reverse("ledgers:branch", args=[org.pk, year])}
        )
    # a leaf has no children at all (MPTT's range tells without a query)
    if not org.is_leaf_node() and _reads_grid(user, org, LedgerKind.ORG):
        links.append(
            {
                "text": f"{year}年下级党组织写实簿",
                "url": reverse("ledgers:children", args=[org.pk, year]),
            }
        )
    if org.parent_id is not None and access.can_view_org_ledger(user, org):
        links.append(
            {"text": f"本组织{year}年写实簿", "url": reverse("ledgers:org", args=[org.pk, year])}
        )
    return links


def member_links(user, member) -> list[dict]:
    if not access.can_view_member_ledger(user, member):
        return []
    year = ledger_year(timezone.localdate())
    return [{"text": f"{year}年写实簿", "url": reverse("ledgers:member", args=[member.pk, year])}]


def todo(user) -> list[dict]:
    """The sections waiting for the user's own signature: in each grid of an organisation the
    user leads (secretary or deputy), and in their own ledger. The counts are the grids' boxes
    of "全选可签". One assembly of each kind for all of it: the members of every grid the user
    leads (one query each) and the children of each (one query each), assembled together."""
    today = timezone.localdate()
    year = ledger_year(today)
    led_ids = {g.org_id for g in grants_for(user) if g.role in LEADING}
    led = (
        list(Organization.objects.filter(pk__in=led_ids, is_active=True).order_by("lft"))
        if led_ids
        else []
    )
    member_grids = {
        org.pk: list(grid_members(org=org, year=year, today=today))
        for org in led
        if keeps_members(org)
    }
    org_grids = {
        org.pk: selectors.kept_orgs(org=org)
        for org in led
        if keeps_orgs(org) and not org.is_leaf_node()
    }
    own = own_member(user=user)
    members = {m.pk: m for rows in member_grids.values() for m in rows}
    if own is not None:
        members.setdefault(own.pk, own)
    children = {o.pk: o for rows in org_grids.values() for o in rows}
    waiting: dict[tuple[str, int], list[str]] = {}  # the slots of the boxes, by ledger
    views = (
        member_ledgers(year=year, members=list(members.values()), today=today) if members else []
    )
    views += org_ledgers(year=year, orgs=list(children.values()), today=today) if children else []
    for view in views:
        waiting[(view.kind, view.subject.pk)] = [
            choice.slot
            for section in view.sections
            if (choice := sign_choice(user, view, section)) is not None and not choice.paper
        ]
    items = []
    for org in led:
        for kind, grids, route, what in (
            (LedgerKind.MEMBER, member_grids, "ledgers:branch", "党员写实簿"),
            (LedgerKind.ORG, org_grids, "ledgers:children", "下级党组织写实簿"),
        ):
            if org.pk not in grids:
                continue
            n = sum(len(waiting[(kind, subject.pk)]) for subject in grids[org.pk])
            if n:
                items.append(
                    {
                        "text": f"{org.name}{year}年{what}待签字",
                        "url": reverse(route, args=[org.pk, year]),
                        "count": n,
                    }
                )
    if own is not None:
        n = waiting[(LedgerKind.MEMBER, own.pk)].count(S.MEMBER_SELF)
        if n:
            items.append(
                {
                    "text": f"我的{year}年写实簿待本人签字",
                    "url": reverse("ledgers:member", args=[own.pk, year]),
                    "count": n,
                }
            )
    return items


def register() -> None:
    extensions.todo_providers.append(todo)
    extensions.org_link_providers.append(org_links)
    extensions.member_link_providers.append(member_links)
    rules = extensions.page_rules
    rules["ledgers:branch"] = lambda user, org, year=None: _reads_grid(user, org, LedgerKind.MEMBER)
    rules["ledgers:children"] = lambda user, org, year=None: _reads_grid(user, org, LedgerKind.ORG)
    rules["ledgers:member"] = lambda user, member, year=None: access.can_view_member_ledger(
        user, member
    )
    rules["ledgers:history"] = rules["ledgers:member"]
    rules["ledgers:org"] = lambda user, org, year=None: (
        org.parent_id is not None and access.can_view_org_ledger(user, org)
    )
    rules["ledgers:org_history"] = rules["ledgers:org"]
