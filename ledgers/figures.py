"""The kept 写实簿 figures (orgs/figures.py): each organisation's own counts per half-year.

The rules are the county inspection's (ledgers.selectors: `half_places`, `half_sections`, the
organisations of `inspection` and `unsigned_orgs`), so the inspection page, its drill-down and
the statistics table agree:

- a member's ledger counts at the branch `half_places` puts the member in for the half-year
  (`member_owed`), opened when the year's ledger row exists (`member_open`);
- an organisation's ledger counts at its parent, which keeps it (`org_owed`, `org_open`): the
  active basic-level organisations below;
- for each kind of section (承诺写实, 履诺写实, 领导点评, 年度写实) the sections of the half-year
  due (`m_…_due`: a quarter's only for a member on a roll at the quarter's end) and signed (a
  live signature in every slot, `m_…_signed`), counted by section, not by signature line.

`names` lists the members or organisations behind a number (for a section count, one item per
section), and for "owed-done" the ones owed and not done: as many as the number.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from django.db.models import Count, Exists, OuterRef, Q
from django.urls import reverse

from ledgers import sections as S
from ledgers.access import LEDGER_ORG_KINDS
from ledgers.models import Ledger, LedgerFigure, LedgerKind
from ledgers.selectors import half_places, half_sections, member_section_due, section_signed
from orgs import figures
from orgs.figures import FigureSource, Named, columns, register_figures
from orgs.models import Organization
from orgs.periods import HALF, Period

KEY = "ledgers"
PREFIX = {LedgerKind.MEMBER: "m", LedgerKind.ORG: "o"}  # the columns' m_… and o_…
_MARK = 987654321  # an id no member or organisation has, replaced in the one reversed address


def _has_ledger(kind: str, year: int, outer: str) -> Exists:
    subject = "member" if kind == LedgerKind.MEMBER else "subject_org"
    return Exists(Ledger.objects.filter(kind=kind, year=year, **{subject: OuterRef(outer)}))


def _kept_by(org_ids) -> Q:
    """The organisations whose ledgers `org_ids` keep: their active basic-level children."""
    return Q(parent_id__in=list(org_ids), kind__in=LEDGER_ORG_KINDS, is_active=True)


def _due(kind: str, spec: S.SectionSpec, year: int, outer: str):
    """Whether the row's ledger owes the section; None: every ledger of the half-year does."""
    return member_section_due(spec, year, outer) if kind == LedgerKind.MEMBER else None


def _section_counts(kind: str, half: Period, outer: str) -> dict[str, Count]:
    """Per section of the half-year, the aggregates of the ledgers owing it and of those owing
    it with it signed."""
    counts = {}
    for spec in half_sections(kind, half):
        due = _due(kind, spec, half.year, outer)
        signed = section_signed(kind, spec, half.year, outer)
        counts[f"due_{spec.key}"] = Count("pk", filter=due)
        counts[f"signed_{spec.key}"] = Count("pk", filter=signed if due is None else signed & due)
    return counts


def _column(kind: str, spec: S.SectionSpec) -> str:
    """The figures' name of a section's kind: m_pledges, o_review… (the kinds are named as the
    sections' sources are)."""
    return f"{PREFIX[kind]}_{spec.builds_from}"


def _add_sections(into: dict[str, int], kind: str, half: Period, row: dict) -> None:
    for spec in half_sections(kind, half):
        name = _column(kind, spec)
        into[f"{name}_due"] = into.get(f"{name}_due", 0) + row[f"due_{spec.key}"]
        into[f"{name}_signed"] = into.get(f"{name}_signed", 0) + row[f"signed_{spec.key}"]


def compute(period: Period, org_ids: list[int]) -> dict[int, dict[str, int]]:
    """{org_id: {column: n}} for `org_ids`' own ledgers in the half-year: two grouped queries
    (the members by the branch they count at, the organisations by their parent)."""
    if not org_ids:
        return {}
    year = period.year
    found: dict[int, dict[str, int]] = {}
    members = (
        half_places(period)
        .filter(org_id__in=list(org_ids))
        .order_by()
        .values("org_id")
        .annotate(
            member_owed=Count("pk"),
            member_open=Count("pk", filter=_has_ledger(LedgerKind.MEMBER, year, "member_id")),
            **_section_counts(LedgerKind.MEMBER, period, "member_id"),
        )
    )
    for row in members:
        into = found.setdefault(row["org_id"], {})
        into["member_owed"], into["member_open"] = row["member_owed"], row["member_open"]
        _add_sections(into, LedgerKind.MEMBER, period, row)
    orgs = (
        Organization.objects.filter(_kept_by(org_ids))
        .order_by()
        .values("parent_id")
        .annotate(
            org_owed=Count("pk"),
            org_open=Count("pk", filter=_has_ledger(LedgerKind.ORG, year, "pk")),
            **_section_counts(LedgerKind.ORG, period, "pk"),
        )
    )
    for row in orgs:
        into = found.setdefault(row["parent_id"], {})
        into["org_owed"], into["org_open"] = row["org_owed"], row["org_open"]
        _add_sections(into, LedgerKind.ORG, period, row)
    return found


# ---------------------------------------------------------------- names


Items = list[tuple[object, Named]]  # (key, item): an owed item and a done item share their key


def _urls(name: str, year: int) -> Callable[[int], str]:
    """The page `name` of a member's or organisation's ledger of `year`, reversed once."""
    head, _, tail = reverse(name, kwargs={"pk": _MARK, "year": year}).partition(str(_MARK))
    return lambda pk: f"{head}{pk}{tail}"


def _section_label(spec: S.SectionSpec, year: int) -> str:
    """承诺写实, 第一季度承诺兑现情况, 上半年领导点评, 年度写实…"""
    if spec.builds_from in (S.PLEDGES, S.YEAR_END):
        return spec.group
    name = spec.period(year).short_label
    return f"{name}领导点评" if spec.is_review else f"{name}承诺兑现情况"


def _sections(kind: str, half: Period, rows, column: str, subject: Callable) -> Items:
    """The (subject, section) items of a section column (`m_review_due`, `o_year_signed`…) over
    `rows` (the members' places or the organisations)."""
    base, _, state = column.rpartition("_")
    chosen = [s for s in half_sections(kind, half) if _column(kind, s) == base]
    outer = "member_id" if kind == LedgerKind.MEMBER else "pk"
    flags = {}
    for spec in chosen:
        due = _due(kind, spec, half.year, outer)
        if due is not None:
            flags[f"due_{spec.key}"] = due
        flags[f"signed_{spec.key}"] = section_signed(kind, spec, half.year, outer)
    items: Items = []
    for row in rows.annotate(**flags) if chosen else []:
        for spec in chosen:
            if not getattr(row, f"due_{spec.key}", True):
                continue
            if state == "signed" and not getattr(row, f"signed_{spec.key}"):
                continue
            pk, name, url = subject(row)
            items.append(((pk, spec.key), Named(name, url, _section_label(spec, half.year))))
    return items


def _member_items(period: Period, org: Organization, column: str) -> Items:
    year = period.year
    places = (
        half_places(period)
        .filter(org_id=org.pk)
        .select_related("member")
        .order_by("member__name", "member_id")
    )
    url = _urls("ledgers:member", year)
    if column == "member_open":
        places = places.filter(_has_ledger(LedgerKind.MEMBER, year, "member_id"))
    elif column != "member_owed":
        return _sections(
            LedgerKind.MEMBER,
            period,
            places,
            column,
            lambda p: (p.member_id, p.member.name, url(p.member_id)),
        )
    return [(p.member_id, Named(p.member.name, url(p.member_id))) for p in places]


def _org_items(period: Period, org: Organization, column: str) -> Items:
    year = period.year
    children = Organization.objects.filter(_kept_by([org.pk])).order_by("lft")
    url = _urls("ledgers:org", year)
    if column == "org_open":
        children = children.filter(_has_ledger(LedgerKind.ORG, year, "pk"))
    elif column != "org_owed":
        return _sections(
            LedgerKind.ORG, period, children, column, lambda c: (c.pk, c.name, url(c.pk))
        )
    return [(c.pk, Named(c.name, url(c.pk))) for c in children]


def _items(period: Period, org: Organization, column: str) -> Items:
    if column not in columns(LedgerFigure):
        raise LookupError(f"写实簿统计没有“{column}”这一项")
    if column.startswith(("member_", "m_")):
        return _member_items(period, org, column)
    return _org_items(period, org, column)


def names(period: Period, org: Organization, column: str) -> list[Named]:
    """What `org`'s own figure `column` counts, or for "owed-done" (e.g.
    "member_owed-member_open", "m_review_due-m_review_signed") those owed and not done: two
    queries at most."""
    owed, _, done = column.partition("-")
    items = _items(period, org, owed)
    if not done:
        return [item for _, item in items]
    done_keys = {key for key, _ in _items(period, org, done)}
    return [item for key, item in items if key not in done_keys]


# ---------------------------------------------------------------- touches


def section_half(kind: str, key: str, year: int) -> Period:
    """The half-year whose figures count a section (`half_sections`)."""
    for half in Period.all_of(year, HALF):
        if any(spec.key == key for spec in half_sections(kind, half)):
            return half
    raise KeyError(key)


def touch_ledgers(
    *,
    year: int,
    members: Collection[int] = (),
    orgs: Collection[int] = (),
    halves: Collection[Period] | None = None,
) -> None:
    """After a change to the year's ledgers of `members` or of the organisations `orgs`: the
    写实簿 figures of the half-years given (default both) are refreshed on commit where they
    count — each member's place for the half-year, each organisation's parent; nothing else
    counts a ledger. A query per half-year for the members, one for the organisations."""
    keepers = set()
    if orgs:
        keepers = set(
            Organization.objects.filter(pk__in=list(orgs), parent__isnull=False).values_list(
                "parent_id", flat=True
            )
        )
    for half in halves if halves is not None else Period.all_of(year, HALF):
        ids = set(keepers)
        if members:
            places = half_places(half).filter(member_id__in=list(members))
            ids |= set(places.values_list("org_id", flat=True))
        figures.touch_period(ids, half, keys=[KEY])


def register() -> None:
    register_figures(
        FigureSource(
            key=KEY,
            model=LedgerFigure,
            period_kind=HALF,
            compute=compute,
            names=names,
            label="写实簿",
        )
    )
