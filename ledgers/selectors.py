"""Reads of the 写实簿 for the pages: a branch's grid (members × sections), a committee's grid of
its child organisations, one ledger, its history, its verification, and the county office's
half-yearly inspection (§四.3 检查指导). Query counts do not grow with members or organisations."""

from __future__ import annotations

import datetime
from bisect import bisect_right
from dataclasses import dataclass

from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from ledgers import chain
from ledgers import sections as S
from ledgers.access import LEDGER_ORG_KINDS
from ledgers.assembly import LedgerView, member_ledgers, org_ledgers
from ledgers.models import Ledger, LedgerEvent, LedgerKind, Signature
from orgs.models import Member, Membership, Organization
from orgs.periods import HALF, Period
from orgs.selectors import members_during, members_on


def _year_end(year: int, today: datetime.date) -> datetime.date:
    return min(today, Period.whole_year(year).end)


def kept_members(*, org: Organization, year: int, today: datetime.date) -> list[Member]:
    """The members whose ledger of `year` the branch keeps: on its roll at the year's end (or
    today, during the year). One query."""
    return list(
        members_on(org=org, day=_year_end(year, today))
        .select_related("org", "user")
        .order_by("name", "pk")
    )


def kept_orgs(*, org: Organization) -> list[Organization]:
    """The basic-level organisations whose ledgers `org` keeps: its active children of the
    kinds that have one. One query."""
    return list(
        org.get_children()
        .filter(is_active=True, kind__in=LEDGER_ORG_KINDS)
        .select_related("parent", "secretary")
        .order_by("lft")
    )


def branch_grid(*, org: Organization, year: int, today: datetime.date) -> list[LedgerView]:
    """Every member on the branch's roll at any time in `year` (up to today), with their
    ledgers: the quarters spent elsewhere show the branch that signs them."""
    start = Period.whole_year(year).start
    members = list(members_during(org=org, start=start, end=_year_end(year, today)))
    return member_ledgers(year=year, members=members, today=today)


def children_grid(*, org: Organization, year: int, today: datetime.date) -> list[LedgerView]:
    return org_ledgers(year=year, orgs=kept_orgs(org=org), today=today)


def ledger_history(*, ledger: Ledger | None) -> QuerySet[LedgerEvent]:
    if ledger is None:
        return LedgerEvent.objects.none()
    return LedgerEvent.objects.filter(ledger=ledger).order_by("-at", "-pk")


def ledger_signatures(*, ledger: Ledger | None) -> list[Signature]:
    """All of a ledger's signatures, withdrawn ones too, in order."""
    if ledger is None:
        return []
    return list(Signature.objects.filter(ledger=ledger).order_by("seq"))


def ledger_verdict(*, ledger: Ledger) -> chain.Verdict:
    return chain.verify(ledger, ledger_signatures(ledger=ledger))


def ledgers_in(*, org: Organization | None = None, ledger_id: int | None = None):
    """The ledgers `ledger_verify` checks: one, those kept in a subtree, or all."""
    ledgers = Ledger.objects.all()
    if ledger_id is not None:
        ledgers = ledgers.filter(pk=ledger_id)
    if org is not None:
        ledgers = ledgers.filter(org.subtree_q("keeper__"))
    return ledgers.order_by("pk")


# ---------------------------------------------------------------- §四.3 检查指导


def half_sections(kind: str, half: Period) -> tuple[S.SectionSpec, ...]:
    """The sections a ledger completes in a half-year: its quarters' (or the half's) sections,
    with the 承诺写实 in the first half and the 年度写实 in the second."""
    periods = (
        [half]
        if kind == LedgerKind.ORG
        else [
            Period.quarter(half.year, 2 * half.number - 1),
            Period.quarter(half.year, 2 * half.number),
        ]
    )
    found: list[S.SectionSpec] = []
    for period in periods:
        for spec in S.deadline_sections(kind, period):
            if spec not in found:
                found.append(spec)
    return tuple(found)


def _required(kind: str, half: Period) -> tuple[list[str], int]:
    specs = half_sections(kind, half)
    return [s.key for s in specs], sum(len(s.slots) for s in specs)


def _signed_in(kind: str, half: Period, outer: str) -> Subquery:
    """The live signatures of the half's sections on the ledger of the row's subject."""
    keys, _ = _required(kind, half)
    counted = (
        Signature.objects.filter(
            ledger__kind=kind,
            ledger__year=half.year,
            section__in=keys,
            withdrawn_at__isnull=True,
            **{
                "ledger__member_id"
                if kind == LedgerKind.MEMBER
                else "ledger__subject_org_id": OuterRef(outer)
            },
        )
        .order_by()
        .values("ledger_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def section_signed(kind: str, spec: S.SectionSpec, year: int, outer: str) -> Exists:
    """Whether the ledger of the row's subject (`outer`: its member or organisation id) has a
    live signature in every slot of the section: how the 写实簿 statistics count a section
    signed."""
    subject = "ledger__member_id" if kind == LedgerKind.MEMBER else "ledger__subject_org_id"
    return Exists(
        Signature.objects.filter(
            ledger__kind=kind,
            ledger__year=year,
            section=spec.key,
            slot__in=spec.slots,
            withdrawn_at__isnull=True,
            **{subject: OuterRef(outer)},
        )
        .order_by()
        .values("ledger_id")
        .annotate(n=Count("pk"))
        .filter(n__gte=len(spec.slots))
    )


def member_section_due(spec: S.SectionSpec, year: int, outer: str) -> Exists | None:
    """Whether a member's ledger (`outer`: the member id) owes the section: a quarter's only
    when the member was on a branch's roll at the quarter's end; None for the 承诺写实 and
    年度写实, which every member of the half-year owes."""
    if spec.builds_from in (S.PLEDGES, S.YEAR_END):
        return None
    return Exists(Membership.objects.on(spec.period(year).end).filter(member=OuterRef(outer)))


def _member_need(half: Period, outer: str):
    """The signatures a member's ledger needs for the half-year: the 承诺写实 (or 年度写实) lines,
    and a quarter's lines only when the member was on a branch's roll at the quarter's end (a
    quarter before the member joined has nobody to sign it)."""
    fixed, by_quarter = 0, {}
    for spec in half_sections(LedgerKind.MEMBER, half):
        if member_section_due(spec, half.year, outer) is None:
            fixed += len(spec.slots)
        else:
            period = spec.period(half.year)
            by_quarter[period] = by_quarter.get(period, 0) + len(spec.slots)
    need = Value(fixed, output_field=IntegerField())
    for period, n in by_quarter.items():
        on_roll = Exists(Membership.objects.on(period.end).filter(member=OuterRef(outer)))
        need = need + Case(When(on_roll, then=Value(n)), default=Value(0))
    return need


def half_places(half: Period) -> QuerySet[Membership]:
    """Where each member of the half-year counts: the membership of the branch that held them
    at the half-year's end, or the last that held them before it in the year — one row per
    member who was on a roll at some time from the year's start to the half-year's end.

    The place is fixed once the half-year is over (a later transfer does not move it), so the
    inspection of a past half-year, its drill-down and the kept statistics agree with each
    other and stay as they were counted."""
    start = Period.whole_year(half.year).start
    later = Membership.objects.filter(member=OuterRef("member_id"), start__lte=half.end).filter(
        Q(start__gt=OuterRef("start")) | Q(start=OuterRef("start"), pk__gt=OuterRef("pk"))
    )
    return (
        Membership.objects.filter(start__lte=half.end)
        .filter(Q(end__isnull=True) | Q(end__gt=start))
        .filter(~Exists(later))
    )


def _members_of_half(within: Organization, half: Period) -> QuerySet[Membership]:
    """The places (`half_places`) under `within`, each with the signatures of the half's
    sections on the member's ledger (`n`) and those it needs (`need`)."""
    return (
        half_places(half)
        .filter(within.subtree_q("org__"))
        .annotate(
            n=_signed_in(LedgerKind.MEMBER, half, "member_id"),
            need=_member_need(half, "member_id"),
        )
    )


@dataclass
class InspectionRow:
    org: Organization  # a 基层党委 (or the county's other direct basic-level organisations)
    members: int = 0  # member ledgers due (members whose `half_places` are in its subtree)
    members_complete: int = 0
    orgs: int = 0  # organisation ledgers due (basic-level organisations below it)
    orgs_complete: int = 0

    @property
    def members_open(self) -> int:
        return self.members - self.members_complete

    @property
    def orgs_open(self) -> int:
        return self.orgs - self.orgs_complete


def inspection(*, county: Organization, half: Period) -> list[InspectionRow]:
    """Per 基层党委 of the county (and per 党总支 or 党支部 directly under the county): member and
    organisation ledgers below it, and how many are complete for the half-year (every signature
    of its sections given); a member counts where `half_places` puts them. Three queries,
    whatever the size."""
    if half.kind != HALF:
        raise ValueError("the inspection is half-yearly")
    # the county's top basic-level organisations: its 基层党委 and the 党总支 and 党支部 that sit
    # directly under a non-basic organisation (a committee inside another counts with the outer)
    tops = list(
        Organization.objects.filter(
            county.subtree_q(), kind__in=LEDGER_ORG_KINDS, is_active=True, level__gt=county.level
        )
        .exclude(parent__kind__in=LEDGER_ORG_KINDS)
        .order_by("lft")
    )
    rows = [InspectionRow(org=c) for c in tops]
    starts = [c.lft for c in tops]

    def row_for(lft: int) -> InspectionRow | None:
        i = bisect_right(starts, lft) - 1
        if i >= 0 and lft <= tops[i].rght:
            return rows[i]
        return None

    members = (
        _members_of_half(county, half)
        .values("org__lft")
        .annotate(total=Count("pk"), complete=Count("pk", filter=Q(n__gte=F("need"))))
        .order_by()
    )
    for found in members:
        row = row_for(found["org__lft"])
        if row is not None:
            row.members += found["total"]
            row.members_complete += found["complete"]
    _, org_need = _required(LedgerKind.ORG, half)
    orgs = (
        Organization.objects.filter(
            county.subtree_q(), kind__in=LEDGER_ORG_KINDS, is_active=True, level__gt=county.level
        )
        .annotate(n=_signed_in(LedgerKind.ORG, half, "pk"))
        .values("lft")
        .annotate(total=Count("pk"), complete=Count("pk", filter=Q(n__gte=org_need)))
        .order_by()
    )
    for found in orgs:
        row = row_for(found["lft"])
        if row is not None and found["lft"] != row.org.lft:  # its own ledger is the county's
            row.orgs += found["total"]
            row.orgs_complete += found["complete"]
    return rows


def unsigned_members(*, within: Organization, half: Period) -> QuerySet[Member]:
    """The members counted under `within` for the half-year (`half_places`) whose ledger is not
    complete, by branch and name (one query; paginate it)."""
    open_places = _members_of_half(within, half).filter(n__lt=F("need"))
    return (
        Member.objects.filter(pk__in=open_places.values("member_id"))
        .select_related("org")
        .order_by("org__lft", "name", "pk")
    )


def unsigned_orgs(*, within: Organization, half: Period) -> QuerySet[Organization]:
    _, need = _required(LedgerKind.ORG, half)
    return (
        Organization.objects.filter(
            within.subtree_q(), kind__in=LEDGER_ORG_KINDS, is_active=True, level__gt=within.level
        )
        .annotate(n=_signed_in(LedgerKind.ORG, half, "pk"))
        .filter(n__lt=need)
        .select_related("parent")
        .order_by("lft")
    )
