"""The county office's half-yearly inspection of the 写实簿 (黑创先办[2010]12号 §四.3 检查指导): per
基层党委, how many ledgers of each kind are complete for the half-year, drilling down to the ones
that are not; and the verify page the printed ledger's QR code opens, which recomputes the
ledger's signature chain and lists its signers."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from ledgers import access, chain, selectors
from ledgers import sections as S
from ledgers.assembly import LedgerView
from ledgers.models import Ledger, LedgerKind
from orgs import access as org_access
from orgs import extensions
from orgs.access import Action
from orgs.models import Organization, OrgKind
from orgs.numbers import share
from orgs.pager import page_of
from orgs.periods import HALF, Period

UNSIGNED_PAGE = 50
MEMBERS, ORGS = "members", "orgs"
HASH_CHARS = frozenset("0123456789abcdef")


def _half(slug: str) -> Period:
    """The half-year a URL names ('2026H1'); 404 for anything else."""
    try:
        period = Period.parse(slug)
    except ValueError:
        raise Http404("期次有误。") from None
    if period.kind != HALF:
        raise Http404("期次有误。")
    return period


def holds_committees(org: Organization) -> bool:
    """Whether `org`'s subtree holds a 基层党委 (itself included): the organisations the
    inspection is read for. One query."""
    return Organization.objects.filter(
        org.subtree_q(), kind=OrgKind.COMMITTEE, is_active=True
    ).exists()


def can_inspect(user, org: Organization) -> bool:
    """Office staff and secretaries reading `org` (a county, or any organisation with 基层党委
    in its subtree)."""
    return org_access.can(user, Action.EXPORT, org)


def _inspected(user, pk) -> Organization:
    """The organisation `pk` read with a reading role: 404 outside the user's scope or without a
    基层党委 below it; 403 for those who see it without a reading role."""
    org = org_access.get_org_for_user(user, pk, Action.EXPORT)
    if not holds_committees(org):
        raise Http404("该组织下没有基层党委。")
    return org


class _Rates:
    """A row of the table: the selector's numbers and their shares."""

    def __init__(self, row: selectors.InspectionRow):
        self.org = row.org
        self.members = row.members
        self.members_complete = row.members_complete
        self.members_open = row.members - row.members_complete
        self.orgs = row.orgs
        self.orgs_complete = row.orgs_complete
        self.orgs_open = row.orgs - row.orgs_complete
        self.member_rate = share(row.members_complete, row.members)
        self.org_rate = share(row.orgs_complete, row.orgs)


@require_GET
def inspection(request, pk, half):
    """检查指导: the county's 基层党委 with their ledgers complete for the half-year."""
    org = _inspected(request.user, pk)
    period = _half(half)
    rows = selectors.inspection(county=org, half=period)
    total = selectors.InspectionRow(org=org)
    for row in rows:
        total.members += row.members
        total.members_complete += row.members_complete
        total.orgs += row.orgs
        total.orgs_complete += row.orgs_complete
    return render(
        request,
        "ledgers/office_inspection.html",
        {
            "org": org,
            "half": period,
            "rows": [_Rates(row) for row in rows],
            "total": _Rates(total),
            "member_sections": _section_names(LedgerKind.MEMBER, period),
            "org_sections": _section_names(LedgerKind.ORG, period),
        },
    )


def _section_names(kind: str, half: Period) -> list[str]:
    """What 'complete for the half-year' means: the sections whose every signature counts."""
    return [
        section_label(kind, spec.key, half.year) for spec in selectors.half_sections(kind, half)
    ]


def section_label(kind: str, key: str, year: int) -> str:
    """How the office pages name a section: 承诺写实, 第一季度承诺兑现情况, 第一季度领导点评…"""
    try:
        spec = S.section_spec(kind, key)
    except KeyError:
        return key
    if spec.builds_from == S.PLEDGES:
        return f"{spec.group}（{spec.heading}）"
    if spec.builds_from == S.YEAR_END:
        return spec.group
    if spec.is_review:
        return f"{spec.period(year).short_label}领导点评"
    return spec.heading


@require_GET
def unsigned(request, pk, half):
    """The members and organisations under a 基层党委 whose ledgers are not complete for the
    half-year, a page at a time (`?kind=orgs` for the organisations)."""
    org = _inspected(request.user, pk)
    if org.kind != OrgKind.COMMITTEE:
        raise Http404("只能查看基层党委的未完成写实簿。")
    period = _half(half)
    kind = ORGS if request.GET.get("kind") == ORGS else MEMBERS
    if kind == MEMBERS:
        rows = selectors.unsigned_members(within=org, half=period)
        specs = selectors.half_sections(LedgerKind.MEMBER, period)
    else:
        rows = selectors.unsigned_orgs(within=org, half=period)
        specs = selectors.half_sections(LedgerKind.ORG, period)
    page = page_of(request, rows, per_page=UNSIGNED_PAGE)
    return render(
        request,
        "ledgers/office_unsigned.html",
        {
            "org": org,
            "half": period,
            "kind": kind,
            "page": page,
            "need": sum(len(spec.slots) for spec in specs),
            "back": _way_back(request.user, org),
        },
    )


def _way_back(user, org: Organization) -> Organization:
    """The inspection the drill-down returns to: the highest organisation the user reads that
    covers the committee (the county for its office), or the committee itself."""
    for grant in org_access.grants_for(user):  # enclosing grants first
        if grant.role in org_access.READING and grant.covers(org):
            if grant.org_id == org.pk:
                return org
            return Organization.objects.get(pk=grant.org_id)
    return org


# ---------------------------------------------------------------- verify


def get_ledger_for_user(user, pk) -> Ledger:
    """The ledger `pk` if the user may read it, by the rule of its page (ledgers.access: the
    member or organisation it is about, or a branch the member belonged to that year), else
    404."""
    ledger = Ledger.objects.select_related("keeper").filter(pk=org_access.object_id(pk)).first()
    if ledger is None:
        raise Http404("没有找到该写实簿。")
    if ledger.kind == LedgerKind.MEMBER:
        ledger.member = access.get_member_for_ledger(user, ledger.member_id, year=ledger.year)
    else:
        ledger.subject_org = access.get_org_for_ledger(user, ledger.subject_org_id)
    return ledger


def _printed_hash(request) -> str:
    """The short hash printed beside the QR code, when the code carried it (`?h=`)."""
    text = (request.GET.get("h") or "").strip().lower()
    if 6 <= len(text) <= 64 and set(text) <= HASH_CHARS:
        return text
    return ""


@require_GET
def verify(request, pk):
    """核验: recompute every signature's hash and the chain of the ledger, and list who signed."""
    ledger = get_ledger_for_user(request.user, pk)
    signatures = selectors.ledger_signatures(ledger=ledger)
    verdict = chain.verify(ledger, signatures)
    printed = _printed_hash(request)
    rows = [
        {
            "signature": s,
            "section": section_label(ledger.kind, s.section, ledger.year),
            "slot": S.SLOT_LABELS.get(s.slot, s.slot),
        }
        for s in signatures
    ]
    return render(
        request,
        "ledgers/office_verify.html",
        {
            "ledger": ledger,
            "verdict": verdict,
            "rows": rows,
            "live": sum(1 for s in signatures if s.withdrawn_at is None),
            "short_hash": ledger.short_hash,
            "printed": printed,
            # the printed copy shows the record as it stood when printed: a later signature or
            # withdrawal moves the head on, which is not a forgery
            "printed_current": bool(printed) and ledger.head.startswith(printed),
            "subject": ledger.member if ledger.kind == LedgerKind.MEMBER else ledger.subject_org,
            "is_member": ledger.kind == LedgerKind.MEMBER,
        },
    )


def verify_url(view: LedgerView) -> str:
    """The absolute address of the ledger's verify page (the QR code's), carrying the short hash
    printed beside it; "" for a ledger not yet opened (nothing is signed to verify)."""
    if view.ledger is None:
        return ""
    path = reverse("ledgers:verify", args=[view.ledger.pk])
    if view.ledger.head:
        path += f"?h={view.ledger.short_hash}"
    return settings.SITE_URL.rstrip("/") + path


# ---------------------------------------------------------------- breadcrumbs


def register_pages() -> None:
    """The page rules of these routes (orgs.extensions.page_rules), so a breadcrumb links them
    only for those who may open them. Called from the AppConfig."""
    extensions.page_rules["ledgers:inspection"] = lambda user, org, half=None: (
        can_inspect(user, org) and holds_committees(org)
    )
    extensions.page_rules["ledgers:unsigned"] = lambda user, org, half=None: (
        org.kind == OrgKind.COMMITTEE and can_inspect(user, org)
    )
    extensions.page_rules["ledgers:verify"] = _may_verify


def _may_verify(user, ledger) -> bool:
    """The page's rule without a query: a branch the member has left since reads the page but
    is not linked to it."""
    if ledger.kind == LedgerKind.MEMBER:
        return access.can_view_member_ledger(user, ledger.member, ledger.keeper)
    return access.can_view_org_ledger(user, ledger.subject_org)
