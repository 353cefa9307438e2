"""The 写实簿 deadlines and their obligation rules (who still owes signatures before each).

- 党员写实簿季度写实 (`ledger_member`, each quarter): per branch, the members on its roll at the
  quarter's end whose sections of that deadline (`sections.deadline_sections`: the quarter's
  兑现情况 and 领导点评, with the 承诺写实 in the first quarter and the 年度写实 in the fourth) do
  not all carry a live signature in every slot. The 党员本人 slot is the member's to sign, but
  the branch's secretary keeps the ledger and chases it, so the gap is the branch's; its page is
  the branch grid.
- 党组织写实簿半年写实 (`ledger_org`, each half-year): per parent (the keeper), its active
  basic-level children (`access.LEDGER_ORG_KINDS`) whose sections of that deadline are not all
  signed; its page is the grid of the children's ledgers.

A section counts as done only with a live (not withdrawn) signature for each of its slots. A
member counts where the roll held them at the quarter's end — the branch that signs the quarter's
sections; the 承诺写实 and 年度写实 are signed by the keeper, which is that same branch unless the
member moved after the quarter (then the grid of the new branch shows them too). Deactivated
organisations owe nothing.

Each rule is one grouped query (an anti-join of the roll, or of the children, against the
ledgers whose deadline sections are complete), whatever the size of the tree; with `org_ids`
only those organisations' members or children are read.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator

from django.db.models import Count, Q, QuerySet
from django.urls import reverse

from ledgers import sections as S
from ledgers.access import LEDGER_ORG_KINDS
from ledgers.models import LedgerKind, Signature
from orgs.deadlines import DeadlineKind, Gap, register_deadline
from orgs.models import Membership, Organization
from orgs.periods import HALF, QUARTER, Period

LEDGER_MEMBER, LEDGER_ORG = "ledger_member", "ledger_org"

_MARK = 987654321  # an id no organisation has, replaced in the one reversed address


def _org_urls(name: str, year: int) -> Callable[[int], str]:
    """The page `name` of an organisation for `year`, for any number of organisations: reversed
    once (reverse() for each of 100,000 organisations would cost more than the query)."""
    path = reverse(name, kwargs={"pk": _MARK, "year": year})
    if path.count(str(_MARK)) != 1:
        return lambda org_id: reverse(name, kwargs={"pk": org_id, "year": year})
    head, _, tail = path.partition(str(_MARK))
    return lambda org_id: f"{head}{org_id}{tail}"


def _complete(kind: str, period: Period, subject: str) -> QuerySet:
    """The subjects (`subject`: the ledger's member_id or subject_org_id) whose ledger of the
    year has a live signature in every slot of the deadline's sections: one grouped subquery."""
    specs = S.deadline_sections(kind, period)
    slots = Q()
    for spec in specs:
        slots |= Q(section=spec.key, slot__in=spec.slots)
    need = sum(len(spec.slots) for spec in specs)
    return (
        Signature.objects.filter(
            slots, ledger__kind=kind, ledger__year=period.year, withdrawn_at__isnull=True
        )
        .order_by()
        .values(f"ledger__{subject}")
        .annotate(n=Count("pk"))
        .filter(n__gte=need)
        .values(f"ledger__{subject}")
    )


def member_ledger_gaps(period: Period, org_ids: set[int] | None = None) -> Iterator[Gap]:
    """Per branch: its members at the quarter's end whose ledger sections of the quarter are not
    all signed (one query)."""
    if org_ids is not None and not org_ids:
        return
    roll = Membership.objects.on(period.end).filter(org__is_active=True)
    complete = _complete(LedgerKind.MEMBER, period, "member_id")
    if org_ids is not None:
        roll = roll.filter(org_id__in=sorted(org_ids))
        # only those members' ledgers, not the whole province's
        complete = complete.filter(ledger__member_id__in=roll.values("member_id"))
    rows = list(
        roll.exclude(member_id__in=complete)
        .order_by()
        .values("org_id")
        .annotate(n=Count("member_id", distinct=True))
        .values_list("org_id", "n")
    )
    url = _org_urls("ledgers:branch", period.year)
    for org_id, n in rows:
        yield Gap(org_id, n, f"{n} 名党员的写实簿{period.short_label}未签字", url(org_id))


def org_ledger_gaps(period: Period, org_ids: set[int] | None = None) -> Iterator[Gap]:
    """Per parent: its basic-level children whose ledger sections of the half-year are not all
    signed (one query)."""
    if org_ids is not None and not org_ids:
        return
    children = Organization.objects.filter(
        kind__in=LEDGER_ORG_KINDS, is_active=True, parent__is_active=True
    )
    complete = _complete(LedgerKind.ORG, period, "subject_org_id")
    if org_ids is not None:
        children = children.filter(parent_id__in=sorted(org_ids))
        complete = complete.filter(ledger__subject_org__parent_id__in=sorted(org_ids))
    rows = list(
        children.exclude(pk__in=complete)
        .order_by()
        .values("parent_id")
        .annotate(n=Count("pk"))
        .values_list("parent_id", "n")
    )
    url = _org_urls("ledgers:children", period.year)
    for parent_id, n in rows:
        yield Gap(
            parent_id, n, f"{n} 个下级党组织的写实簿{period.short_label}未签字", url(parent_id)
        )


def _after_the_period(period: Period) -> datetime.date:
    return period.end + datetime.timedelta(days=15)


# 黑创先办[2010]12号 §四.2: branches write up members each quarter, the committee above writes up
# organisations each half-year; the sections are signed after the period ends.
MEMBER_KIND = DeadlineKind(
    key=LEDGER_MEMBER,
    label="党员写实簿季度写实",
    period_kind=QUARTER,
    default_due=_after_the_period,
    gaps=member_ledger_gaps,
    source="黑创先办[2010]12号 四.2",
    order=70,
)
ORG_KIND = DeadlineKind(
    key=LEDGER_ORG,
    label="党组织写实簿半年写实",
    period_kind=HALF,
    default_due=_after_the_period,
    gaps=org_ledger_gaps,
    source="黑创先办[2010]12号 四.2",
    order=71,
)


def register() -> None:
    """Declare the ledgers' deadline kinds with their rules (called once from the AppConfig)."""
    for kind in (MEMBER_KIND, ORG_KIND):
        register_deadline(kind)
