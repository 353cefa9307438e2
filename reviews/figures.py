"""The kept 领导点评 figures (orgs/figures.py): each organisation's own counts per quarter.

The rules are those of the review pages (reviews.selectors), so that the coverage page, the
statistics table, the obligation lists and the drill-down names agree:

- members (the quarter): owed at the branch whose roll holds them at the quarter's end, not its
  secretary (reviewed half-yearly as such), not exempted; reviewed when that branch signed a
  review of them (`_member_counts`). `exempt_members`: those on the roll who were exempted.
- organisations and their secretaries (the half-year the quarter falls in, so both quarters of
  a half carry them): counted at the organisation's own row while it is active, of a reviewable
  kind and not the top of the tree; a secretary only where the organisation has one; exempted
  ones (`exempt_orgs`) are not owed; met only by the parent's signed review.
- reviewers (`reviewers_owed` / `reviewers_done`), at the reviewing organisation's row: 1 when
  it owes anything this quarter (its members) or this half-year (its children and their
  secretaries), done when every one of those is met.
- `by_*`: every signed review by method (the members' of the quarter, the organisations' and
  secretaries' of the half-year), counted at the review's `org` — the branch of the member or the
  organisation reviewed — whoever wrote it (a linked leader's and a random one count here).
- `rect_*`: the rectification items set on those periods' reviews (whatever the review's later
  version), at the item's `org`: raised, closed (销号), and overdue — not closed and past their
  deadline as of today, the rule of the lists (`RectificationBase.is_overdue`). As days pass an
  item becomes overdue without any write: the nightly rebuild moves it into the figure.
"""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from orgs.figures import FigureSource, Named, register_figures
from orgs.models import MEMBER_HOLDING_KINDS, Organization
from orgs.periods import HALF, QUARTER, Period
from orgs.rectifications import RectificationStatus
from reviews import selectors
from reviews.models import (
    REVIEWABLE_KINDS,
    Exemption,
    LeaderReview,
    Method,
    ReviewFigure,
    ReviewRectification,
    SubjectKind,
)

METHOD_COLUMNS = {
    Method.CENTRAL: "by_central",
    Method.INDIVIDUAL: "by_individual",
    Method.ONSITE: "by_onsite",
    Method.RANDOM: "by_random",
}
SUBJECT_COLUMNS = {  # subject kind → (owed, reviewed)
    SubjectKind.ORG: ("orgs_owed", "orgs_reviewed"),
    SubjectKind.SECRETARY: ("secretaries_owed", "secretaries_reviewed"),
}


def half_of(quarter: Period) -> Period:
    """The half-year whose organisation and secretary figures a quarter's row carries."""
    return Period.containing(quarter.end, HALF)


def _check_quarter(period: Period) -> None:
    if period.kind != QUARTER:
        raise ValueError(f"review figures are kept by quarter, not {period.kind}")


def _in_periods(quarter: Period, half: Period, prefix: str = "") -> Q:
    """The members' records of the quarter and the organisations' and secretaries' of the
    half-year (`prefix` reaches the review)."""

    def of(period: Period) -> Q:
        return Q(
            **{
                f"{prefix}year": period.year,
                f"{prefix}period_kind": period.kind,
                f"{prefix}period": period.number,
            }
        )

    member = Q(**{f"{prefix}subject_kind": SubjectKind.MEMBER})
    return (of(quarter) & member) | (of(half) & ~member)


# ---------------------------------------------------------------- compute


def compute(period: Period, org_ids: list[int]) -> dict[int, dict[str, int]]:
    """{org_id: {column: n}} for `org_ids`' own records in `period` (a quarter). At most eight
    grouped queries whatever the number of organisations; inactive ones count nothing."""
    _check_quarter(period)
    ids = sorted(set(org_ids))
    if not ids:
        return {}
    half = half_of(period)
    # the organisations themselves and their reviewable children (the subjects they review)
    orgs = list(
        Organization.objects.filter(
            Q(pk__in=ids) | Q(parent_id__in=ids, kind__in=REVIEWABLE_KINDS), is_active=True
        ).values_list("pk", "parent_id", "kind", "secretary_id")
    )
    wanted = set(ids)
    active = {pk for pk, *_ in orgs if pk in wanted}
    out: dict[int, dict[str, int]] = {pk: defaultdict(int) for pk in active}

    in_ids = Q(org_id__in=ids)
    owed = done = exempt = {}
    if any(kind in MEMBER_HOLDING_KINDS for pk, _, kind, _ in orgs if pk in active):
        owed, done = selectors._member_counts(in_ids, period)
        exempt = selectors._member_exempt_counts(in_ids, period)
    for counts, column in ((owed, "members_owed"), (done, "members_reviewed")):
        for org_id, n in counts.items():
            if org_id in active:
                out[org_id][column] = n
    for org_id, n in exempt.items():
        if org_id in active:
            out[org_id]["exempt_members"] = n

    # the organisations reviewed half-yearly: those asked for and their children
    subjects = sorted(
        pk for pk, parent_id, kind, _ in orgs if kind in REVIEWABLE_KINDS and parent_id is not None
    )
    org_exempt = org_met = set()
    if subjects:
        org_exempt = set(
            Exemption.objects.in_period(half).filter(subject_org_id__in=subjects)
            .exclude(subject_kind=SubjectKind.MEMBER).values_list("subject_org_id", "subject_kind")
        )  # fmt: skip
        org_met = set(
            selectors.parent_reviews(half).filter(subject_org_id__in=subjects)
            .values_list("subject_org_id", "subject_kind").distinct()
        )  # fmt: skip
    gaps = {pk: out[pk]["members_owed"] - out[pk]["members_reviewed"] for pk in active}
    owes = {pk for pk in active if out[pk]["members_owed"]}
    for pk, parent_id, kind, secretary_id in orgs:
        if kind not in REVIEWABLE_KINDS or parent_id is None:
            continue
        for subject_kind, (owed_col, reviewed_col) in SUBJECT_COLUMNS.items():
            if subject_kind == SubjectKind.SECRETARY and secretary_id is None:
                continue
            subject = (pk, subject_kind)
            if subject in org_exempt:
                if pk in active:
                    out[pk]["exempt_orgs"] += 1
                continue
            met = subject in org_met
            if pk in active:
                out[pk][owed_col] += 1
                out[pk][reviewed_col] += met
            if parent_id in active:
                owes.add(parent_id)
                gaps[parent_id] += not met
    for pk in owes:
        out[pk]["reviewers_owed"] = 1
        out[pk]["reviewers_done"] = int(gaps[pk] == 0)

    by_method = (
        LeaderReview.objects.signed().not_by_subject()
        .filter(_in_periods(period, half), org_id__in=ids)
        .values("org_id", "method").annotate(n=Count("pk")).order_by()
        .values_list("org_id", "method", "n")
    )  # fmt: skip
    for org_id, method, n in by_method:
        if org_id in active and method in METHOD_COLUMNS:
            out[org_id][METHOD_COLUMNS[method]] += n

    closed = Q(status=RectificationStatus.CLOSED)
    items = (
        ReviewRectification.objects.filter(_in_periods(period, half, "review__"), org_id__in=ids)
        .values("org_id")
        .annotate(
            raised=Count("pk"),
            closed=Count("pk", filter=closed),
            overdue=Count("pk", filter=~closed & Q(deadline__lt=timezone.localdate())),
        )
        .order_by()
        .values_list("org_id", "raised", "closed", "overdue")
    )
    for org_id, raised, n_closed, overdue in items:
        if org_id in active:
            out[org_id].update(rect_raised=raised, rect_closed=n_closed, rect_overdue=overdue)
    return {pk: dict(values) for pk, values in out.items()}


# ---------------------------------------------------------------- names


def _member_named(row: selectors.Row) -> Named:
    member, review = row.subject, row.review
    if row.is_exempt:
        return Named(
            member.name,
            reverse("orgs:member_detail", args=[member.pk]),
            f"免予点评：{row.exemption.reason}",
        )
    if row.is_signed:
        return Named(
            member.name,
            reverse("reviews:detail", args=[review.pk]),
            f"{review.get_method_display()} {review.reviewed_on:%Y-%m-%d}",
        )
    detail = "草稿未签字" if row.is_draft else "未点评"
    return Named(member.name, reverse("orgs:member_detail", args=[member.pk]), detail)


def _subject_named(row: selectors.Row) -> Named:
    org = row.subject
    label = org.name
    if row.is_secretary:
        label = f"{org.name}书记{org.secretary.name}"
    if row.is_exempt:
        return Named(
            label, reverse("orgs:detail", args=[org.pk]), f"免予点评：{row.exemption.reason}"
        )
    if row.is_signed:
        review = row.review
        return Named(
            label,
            reverse("reviews:detail", args=[review.pk]),
            f"{review.get_method_display()} {review.reviewed_on:%Y-%m-%d}",
        )
    detail = "草稿未签字" if row.is_draft else "未点评"
    return Named(label, reverse("orgs:detail", args=[org.pk]), detail)


def _subject_rows(org: Organization, half: Period) -> list[selectors.Row]:
    """The organisation's own half-year obligations (itself, its secretary), as its parent's
    half-year page lists them."""
    if org.parent_id is None or org.kind not in REVIEWABLE_KINDS:
        return []
    return [r for r in selectors.half_year(org=org.parent, period=half) if r.subject.pk == org.pk]


def _reviewer_named(org: Organization, period: Period, half: Period, column: str) -> list[Named]:
    rows = [
        *selectors.branch_quarter(branch=org, period=period),
        *selectors.half_year(org=org, period=half),
    ]
    owed = [r for r in rows if not r.is_exempt]
    if not owed:
        return []
    gap = sum(r.awaits_review for r in owed)
    listed = {
        "reviewers_owed": True,
        "reviewers_done": not gap,
        "reviewers_owed-reviewers_done": bool(gap),
    }[column]
    if not listed:
        return []
    detail = f"尚缺 {gap} 项" if gap else f"{len(owed)} 项全部完成"
    return [Named(org.name, reverse("reviews:coverage", args=[org.pk, period.slug]), detail)]


def _reviews_named(org: Organization, period: Period, half: Period, method: str) -> list[Named]:
    reviews = (
        LeaderReview.objects.signed().not_by_subject()
        .filter(_in_periods(period, half), org=org, method=method)
        .select_related("subject_org", "subject_member").order_by("reviewed_on", "pk")
    )  # fmt: skip
    return [
        Named(
            r.subject_name,
            reverse("reviews:detail", args=[r.pk]),
            f"{r.reviewer_name} {r.reviewed_on:%Y-%m-%d}",
        )
        for r in reviews
    ]


def _items_named(org: Organization, period: Period, half: Period, column: str) -> list[Named]:
    closed = Q(status=RectificationStatus.CLOSED)
    items = ReviewRectification.objects.filter(_in_periods(period, half, "review__"), org=org)
    if column == "rect_closed":
        items = items.filter(closed)
    elif column == "rect_overdue":
        items = items.exclude(closed).filter(deadline__lt=timezone.localdate())
    items = items.select_related(
        "review", "review__subject_org", "review__subject_member"
    ).order_by("deadline", "pk")
    return [
        Named(
            item.requirement,
            reverse("reviews:detail", args=[item.review_id]),
            f"{item.review.subject_name}，期限 {item.deadline:%Y-%m-%d}，{item.get_status_display()}",
        )
        for item in items
    ]


def names(period: Period, org: Organization, column: str) -> list[Named]:
    """What `org`'s own figure `column` counts in `period` (a quarter), or for "owed-done" (e.g.
    "members_owed-members_reviewed") those owed and not met: as many as the kept figure says, read
    through the pages' own selectors. At most seven queries."""
    _check_quarter(period)
    half = half_of(period)
    if not org.is_active:
        return []
    member_columns = {
        "members_owed": lambda r: not r.is_exempt,
        "members_reviewed": lambda r: r.is_signed,
        "exempt_members": lambda r: r.is_exempt,
        "members_owed-members_reviewed": lambda r: r.awaits_review,
    }
    if column in member_columns:
        keep = member_columns[column]
        rows = selectors.branch_quarter(branch=org, period=period)
        return [_member_named(r) for r in rows if keep(r)]
    subject_columns = {
        "orgs_owed": (SubjectKind.ORG, lambda r: not r.is_exempt),
        "orgs_reviewed": (SubjectKind.ORG, lambda r: r.is_signed),
        "orgs_owed-orgs_reviewed": (SubjectKind.ORG, lambda r: r.awaits_review),
        "secretaries_owed": (SubjectKind.SECRETARY, lambda r: not r.is_exempt),
        "secretaries_reviewed": (SubjectKind.SECRETARY, lambda r: r.is_signed),
        "secretaries_owed-secretaries_reviewed": (
            SubjectKind.SECRETARY,
            lambda r: r.awaits_review,
        ),
        "exempt_orgs": (None, lambda r: r.is_exempt),
    }
    if column in subject_columns:
        kind, keep = subject_columns[column]
        return [
            _subject_named(r)
            for r in _subject_rows(org, half)
            if (kind is None or r.kind == kind) and keep(r)
        ]
    if column in ("reviewers_owed", "reviewers_done", "reviewers_owed-reviewers_done"):
        return _reviewer_named(org, period, half, column)
    for method, method_column in METHOD_COLUMNS.items():
        if column == method_column:
            return _reviews_named(org, period, half, method)
    if column in ("rect_raised", "rect_closed", "rect_overdue"):
        return _items_named(org, period, half, column)
    raise ValueError(f"no names behind the review figure {column!r}")


def register() -> None:
    register_figures(
        FigureSource(
            key="reviews",
            model=ReviewFigure,
            period_kind=QUARTER,
            compute=compute,
            names=names,
            label="领导点评",
        )
    )
