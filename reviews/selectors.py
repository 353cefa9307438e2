"""Reads of leader reviews: for the review pages (obligations by rule and the two coverages,
全覆盖), and the read API the ledgers and statistics build on (`signed_review`,
`signed_reviews`, `open_rectifications`, `review_counts_by_org`). They return querysets, numbers
and dataclass rows; the templates format them."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.urls import reverse

from orgs import figures
from orgs.models import Member, Membership, Organization
from orgs.numbers import share
from orgs.periods import HALF, QUARTER, Period
from orgs.rectifications import RectificationRow
from orgs.selectors import members_on
from pledges.access import pledges_visible_to
from pledges.models import Pledge
from reviews.access import member_branch_for, rectifications_visible_to, reviews_visible_to
from reviews.models import (
    REVIEWABLE_KINDS,
    Exemption,
    LeaderReview,
    RandomDraw,
    ReviewEvent,
    ReviewFigure,
    ReviewRectification,
    SubjectKind,
)


def _prefer_signed(reviews, *, key) -> dict:
    """One review per subject: the signed one over a draft (a correction in progress)."""
    chosen: dict = {}
    for review in reviews:
        current = chosen.get(key(review))
        if current is None or (not current.is_signed and review.is_signed):
            chosen[key(review)] = review
    return chosen


# ---------------------------------------------------------------- the review pages


@dataclass
class Row:
    """One obligation on a quarter's or half-year's page: a subject, its review or exemption."""

    subject: object
    kind: str
    review: LeaderReview | None = None
    exemption: Exemption | None = None
    previous: LeaderReview | None = None

    @property
    def state(self) -> str:
        """ "exempt", "missing", "draft" or "signed": the order the pages list them in."""
        if self.exemption:
            return "exempt"
        if self.review is None:
            return "missing"
        return self.review.status

    @property
    def is_exempt(self) -> bool:
        return self.exemption is not None

    @property
    def is_missing(self) -> bool:
        """Neither reviewed nor exempt."""
        return not self.is_exempt and self.review is None

    @property
    def is_draft(self) -> bool:
        return not self.is_exempt and self.review is not None and self.review.is_draft

    @property
    def is_signed(self) -> bool:
        return not self.is_exempt and self.review is not None and self.review.is_signed

    @property
    def awaits_review(self) -> bool:
        """Owed and not yet met: no review, or one not signed yet."""
        return self.is_missing or self.is_draft

    @property
    def is_secretary(self) -> bool:
        return self.kind == SubjectKind.SECRETARY


STATE_ORDER = {"missing": 0, "draft": 1, "signed": 2, "exempt": 3}


def branch_quarter(*, branch: Organization, period: Period) -> list[Row]:
    """Each member owed a review by the branch this quarter (the roll at the quarter's end),
    with the review, an exemption, and last quarter's review beside it. Four queries."""
    members = list(members_on(org=branch, day=period.end).order_by("name", "pk"))
    if branch.secretary_id:  # the secretary is reviewed half-yearly, as the branch's secretary
        members = [m for m in members if m.pk != branch.secretary_id]
    ids = [m.pk for m in members]
    latest = _prefer_signed(
        LeaderReview.objects.live()
        .in_period(period)
        .not_by_subject()
        .filter(org=branch, subject_kind=SubjectKind.MEMBER, subject_member__in=ids),
        key=lambda r: r.subject_member_id,
    )
    exempt = {
        e.subject_member_id: e
        for e in Exemption.objects.in_period(period).filter(
            subject_kind=SubjectKind.MEMBER, subject_member__in=ids
        )
    }
    # last quarter's review as this branch wrote it (another branch's is not its to read)
    before = {
        r.subject_member_id: r
        for r in LeaderReview.objects.signed().in_period(period.before).not_by_subject()
        .filter(org=branch, subject_kind=SubjectKind.MEMBER, subject_member__in=ids)
    } if period.before else {}  # fmt: skip
    rows = [
        Row(m, SubjectKind.MEMBER, latest.get(m.pk), exempt.get(m.pk), before.get(m.pk))
        for m in members
    ]
    rows.sort(key=lambda r: STATE_ORDER[r.state])
    return rows


def _reviewable_children(org: Organization) -> QuerySet[Organization]:
    return org.get_children().filter(kind__in=REVIEWABLE_KINDS, is_active=True)


def half_year(*, org: Organization, period: Period) -> list[Row]:
    """The child organisations (and their secretaries) owed a review by `org` this half-year."""
    children = list(_reviewable_children(org).select_related("secretary"))
    ids = [c.pk for c in children]
    latest = _prefer_signed(
        LeaderReview.objects.live().in_period(period).filter(subject_org__in=ids, reviewer_org=org),
        key=lambda r: (r.subject_org_id, r.subject_kind),
    )
    exempt = {
        (e.subject_org_id, e.subject_kind): e
        for e in Exemption.objects.in_period(period).filter(subject_org__in=ids)
    }
    rows = []
    for child in children:
        for kind in (SubjectKind.ORG, SubjectKind.SECRETARY):
            if kind == SubjectKind.SECRETARY and child.secretary_id is None:
                continue
            rows.append(
                Row(child, kind, latest.get((child.pk, kind)), exempt.get((child.pk, kind)))
            )
    return rows


def missing_members(*, branch: Organization, period: Period) -> list[Member]:
    """The members the branch still owes a review this quarter (none yet, or a draft)."""
    return [r.subject for r in branch_quarter(branch=branch, period=period) if r.awaits_review]


# ---------------------------------------------------------------- 全覆盖


@dataclass
class Coverage:
    org: Organization
    members_owed: int = 0
    members_reviewed: int = 0
    orgs_owed: int = 0
    orgs_reviewed: int = 0
    secretaries_owed: int = 0
    secretaries_reviewed: int = 0
    reviewers_owed: int = 0
    reviewers_done: int = 0
    gaps: list = field(default_factory=list)

    @property
    def member_rate(self) -> float | None:
        return share(self.members_reviewed, self.members_owed)

    @property
    def org_rate(self) -> float | None:
        return share(
            self.orgs_reviewed + self.secretaries_reviewed, self.orgs_owed + self.secretaries_owed
        )

    @property
    def reviewer_rate(self) -> float | None:
        return share(self.reviewers_done, self.reviewers_owed)


def _exempted_member(quarter: Period, member_ref: str) -> QuerySet[Exemption]:
    return Exemption.objects.in_period(quarter).filter(
        subject_kind=SubjectKind.MEMBER, subject_member_id=OuterRef(member_ref)
    )


def _member_counts(in_tree: Q, quarter: Period) -> tuple[dict[int, int], dict[int, int]]:
    """Per branch (org id): the members owed a review this quarter, and those reviewed. Two
    grouped queries.

    Owed: on the branch's roll at the quarter's end, not its secretary (reviewed half-yearly as
    such), not exempt. Reviewed: with a signed review by that branch, not written by themselves
    — so reviewed never exceeds owed and the lists beside agree."""
    on_roll = Membership.objects.on(quarter.end)
    owed = dict(
        on_roll.filter(in_tree)
        .exclude(member_id=F("org__secretary_id"))
        .filter(~Exists(_exempted_member(quarter, "member_id")))
        .values("org_id")
        .annotate(n=Count("member_id", distinct=True))
        .values_list("org_id", "n")
    )
    # Counted from the reviews, each tested against the roll in the WHERE clause: the database
    # joins the roll once (a hash semi-join) instead of probing the reviews for every member.
    done = dict(
        LeaderReview.objects.signed()
        .in_period(quarter)
        .not_by_subject()
        .filter(in_tree, subject_kind=SubjectKind.MEMBER)
        .exclude(subject_member_id=F("org__secretary_id"))
        .filter(
            Exists(
                on_roll.filter(member_id=OuterRef("subject_member_id"), org_id=OuterRef("org_id"))
            )
        )
        .filter(~Exists(_exempted_member(quarter, "subject_member_id")))
        .values("org_id")
        .annotate(n=Count("subject_member_id", distinct=True))
        .values_list("org_id", "n")
    )
    return owed, done


def _member_exempt_counts(in_rows: Q, quarter: Period) -> dict[int, int]:
    """Per branch (org id): the members on its roll at the quarter's end (not its secretary)
    exempted from this quarter's review — those `_member_counts` leaves out of owed. One grouped
    query."""
    return dict(
        Membership.objects.on(quarter.end)
        .filter(in_rows)
        .exclude(member_id=F("org__secretary_id"))
        .filter(Exists(_exempted_member(quarter, "member_id")))
        .values("org_id")
        .annotate(n=Count("member_id", distinct=True))
        .values_list("org_id", "n")
    )


def parent_reviews(half: Period) -> QuerySet[LeaderReview]:
    """The half-year's signed reviews of organisations and secretaries that meet the obligation:
    the parent's (a linked leader's or a random one is extra)."""
    return (
        LeaderReview.objects.signed()
        .in_period(half)
        .exclude(subject_kind=SubjectKind.MEMBER)
        .filter(reviewer_org_id=F("subject_org__parent_id"))
    )


COVERAGE_COLUMNS = (
    "members_owed",
    "members_reviewed",
    "orgs_owed",
    "orgs_reviewed",
    "secretaries_owed",
    "secretaries_reviewed",
    "reviewers_owed",
    "reviewers_done",
)


def coverage(*, root: Organization, quarter: Period, half: Period | None = None) -> dict:
    """全覆盖 for `root`'s subtree: members reviewed in `quarter`, organisations and secretaries
    reviewed in its half-year, and reviewers whose every obligation is met — in total and for each
    child, with the reviewers that still owe the most (`total.gaps`) and the time of the figures
    (`as_of`).

    Read from the kept figures (reviews/figures.py), the numbers of the 领导点评 statistics table:
    the subtree's own rows, the root's included — so a reviewable root counts its own review by
    its parent. `half`, when given, must be the quarter's: the figures keep no other pairing.
    Five queries whatever the size of the subtree."""
    if half is not None and half != Period.containing(quarter.end, HALF):
        raise ValueError(f"{half.label} is not the half-year of {quarter.label}")
    rolled = figures.rollup("reviews", root, quarter)

    def of(org: Organization, values: dict[str, int]) -> Coverage:
        return Coverage(org, **{c: values[c] for c in COVERAGE_COLUMNS})

    total = of(root, rolled.total)
    total.gaps = reviewer_gaps(root=root, quarter=quarter)
    children = [of(org, values) for org, values in rolled.children]
    return {"total": total, "children": children, "as_of": rolled.as_of}


def reviewer_gaps(
    *, root: Organization, quarter: Period, limit: int = 100
) -> list[tuple[Organization, int]]:
    """The reviewers of `root`'s subtree with obligations not met, the most first, and how many
    each: one grouped query on the kept figures — a reviewer's own members not reviewed, and its
    children and their secretaries not reviewed, kept at each child's row (the root's own review
    is its parent's to write, outside the subtree) — and one for their names."""
    figures.settle()
    fig = connection.ops.quote_name(ReviewFigure._meta.db_table)
    org = connection.ops.quote_name(Organization._meta.db_table)
    sql = (
        "SELECT g.reviewer, SUM(g.gap) FROM ("
        " SELECT f.org_id AS reviewer, f.members_owed - f.members_reviewed AS gap"
        f" FROM {fig} f JOIN {org} o ON o.id = f.org_id"
        " WHERE f.period = %s AND o.tree_id = %s AND o.lft BETWEEN %s AND %s"
        " UNION ALL"
        " SELECT o.parent_id AS reviewer, f.orgs_owed - f.orgs_reviewed"
        " + f.secretaries_owed - f.secretaries_reviewed AS gap"
        f" FROM {fig} f JOIN {org} o ON o.id = f.org_id JOIN {org} r ON r.id = o.parent_id"
        " WHERE f.period = %s AND r.is_active AND o.tree_id = %s AND o.lft > %s AND o.lft <= %s"
        ") g GROUP BY g.reviewer HAVING SUM(g.gap) > 0 ORDER BY 2 DESC, 1 DESC LIMIT %s"
    )
    span = [quarter.slug, root.tree_id, root.lft, root.rght]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*span, *span, limit])
        found = [(pk, int(gap)) for pk, gap in cursor.fetchall()]
    named = Organization.objects.in_bulk([pk for pk, _ in found])
    return [(named[pk], gap) for pk, gap in found]


# ---------------------------------------------------------------- beside the review form


def pledges_beside(
    *, user, year: int, member: Member | None = None, org: Organization | None = None
) -> QuerySet[Pledge]:
    """The subject's pledges of the year to read beside a review form: the published ones, and
    the others only where the writer may read them (pledges.access decides)."""
    pledges = Pledge.objects.filter(year=year)
    pledges = (
        pledges.filter(owner_member=member) if member is not None else pledges.filter(owner_org=org)
    )
    readable = pledges.filter(pk__in=pledges_visible_to(user).values("pk"))
    return (pledges.published() | readable).order_by("created_at", "pk")


def last_review(
    *,
    user,
    period: Period,
    kind: str,
    member: Member | None = None,
    org: Organization | None = None,
) -> LeaderReview | None:
    """The subject's latest signed review before `period` that the writer may read."""
    before = Q(year__lt=period.year) | Q(year=period.year, period__lt=period.number)
    reviews = (
        reviews_visible_to(user).signed().filter(before, period_kind=period.kind, subject_kind=kind)
    )
    reviews = (
        reviews.filter(subject_member=member)
        if kind == SubjectKind.MEMBER
        else reviews.filter(subject_org=org)
    )
    return reviews.order_by("-year", "-period", "-version").first()


# ---------------------------------------------------------------- one review


def member_reviews(*, user, member: Member) -> list[LeaderReview]:
    """A member's leader reviews (as a member, and as a secretary) that the user may read, the
    latest first; a version replaced by its correction is left out. One query."""
    return list(
        reviews_visible_to(user)
        .live()
        .not_by_subject()
        .filter(subject_member=member)
        .select_related("subject_org")
        .order_by("-year", "-period_kind", "-period", "-version", "-pk")
    )


def correction_of(*, review: LeaderReview) -> LeaderReview | None:
    """The version that corrects `review`, if one was started."""
    return LeaderReview.objects.filter(previous=review).first()


def review_events(*, review: LeaderReview) -> QuerySet[ReviewEvent]:
    return review.events.select_related("actor")


# ---------------------------------------------------------------- rectification items


def rectifications_of(*, review: LeaderReview) -> list[ReviewRectification]:
    """The items set on a review, in the order they were set."""
    return list(review.items.order_by("pk"))


def rectifications_for(
    *, user, within: Organization | None = None
) -> QuerySet[ReviewRectification]:
    """The items the user may read (reviews.access), of the subtree `within` when given."""
    items = rectifications_visible_to(user)
    if within is not None:
        items = items.filter(within.subtree_q("org__"))
    return items.select_related(
        "review", "review__subject_member", "review__subject_org", "org"
    ).order_by("status", "deadline", "pk")


def rectification_rows(items: Iterable[ReviewRectification]) -> list[RectificationRow]:
    """Review rectification items in the row shape both kinds share (select the review, its
    subject and the org with them)."""
    return [
        RectificationRow(
            source="review",
            pk=item.pk,
            org=item.org,
            member=item.review.subject_member,
            subject_name=item.review.subject_name,
            requirement=item.requirement,
            deadline=item.deadline,
            status=item.status,
            response=item.response,
            url=reverse("reviews:detail", args=[item.review_id]),
        )
        for item in items
    ]


def open_rectifications(
    *, org: Organization | None = None, member: Member | None = None, year: int
) -> list[RectificationRow]:
    """Items set from the year's reviews and not yet closed (整改中 or reported), earliest
    deadline first: those kept in `org`'s subtree, and/or those set on `member` (as a member or
    as a secretary). One query."""
    items = ReviewRectification.objects.open().filter(review__year=year)
    if org is not None:
        items = items.filter(org.subtree_q("org__"))
    if member is not None:
        items = items.filter(review__subject_member=member)
    items = items.select_related(
        "org", "review", "review__subject_member", "review__subject_org"
    ).order_by("deadline", "pk")
    return rectification_rows(items)


def late_rectifications_count(*, user, today: datetime.date) -> int:
    """How many items the user set are past their deadline and not closed."""
    return (
        ReviewRectification.objects.open().filter(review__reviewer=user, deadline__lt=today).count()
    )


# ---------------------------------------------------------------- random draws


def recent_draws(*, scope: Organization, limit: int = 20) -> QuerySet[RandomDraw]:
    return RandomDraw.objects.filter(scope=scope).order_by("-at")[:limit]


def draw_picked(*, draw: RandomDraw) -> QuerySet[Organization]:
    """The organisations the draw picked, in tree order."""
    return Organization.objects.filter(pk__in=draw.picked).order_by("lft")


# ---------------------------------------------------------------- the read API


def _signed_first(reviews: QuerySet[LeaderReview], meets: Q | None) -> QuerySet[LeaderReview]:
    """Signed reviews, the one that meets the obligation (`meets`, when several may) first, then
    the latest."""
    reviews = (
        reviews.signed()
        .not_by_subject()
        .select_related("org", "subject_org", "subject_member", "reviewer_org")
    )
    if meets is None:
        return reviews.order_by("-signed_at", "-pk")
    first = Case(When(meets, then=Value(0)), default=Value(1), output_field=IntegerField())
    return reviews.annotate(meets_obligation=first).order_by(
        "meets_obligation", "-signed_at", "-pk"
    )


def signed_review(
    *,
    subject_org: Organization | None = None,
    subject_member: Member | None = None,
    period: Period,
) -> LeaderReview | None:
    """The period's signed review of a subject, or None.

    A member for a quarter: the review by the branch that owed it (the roll at the quarter's
    end; two queries). An organisation for a half-year, or its secretary (pass the secretary as
    `subject_member`): the parent's review, which meets the obligation, before a linked leader's
    or a random one (one query). The corrected version of a corrected review."""
    reviews = LeaderReview.objects.in_period(period)
    if subject_member is not None and period.kind == QUARTER:
        branch = member_branch_for(subject_member, period)
        reviews = reviews.filter(subject_kind=SubjectKind.MEMBER, subject_member=subject_member)
        meets = Q(org_id=branch.pk) if branch is not None else None
    elif subject_member is not None and period.kind == HALF:
        reviews = reviews.filter(subject_kind=SubjectKind.SECRETARY, subject_member=subject_member)
        meets = Q(reviewer_org_id=F("subject_org__parent_id"))
    elif subject_org is not None and period.kind == HALF:
        reviews = reviews.filter(subject_kind=SubjectKind.ORG, subject_org=subject_org)
        meets = Q(reviewer_org_id=F("subject_org__parent_id"))
    else:
        raise ValueError("a member for a quarter or a half-year, an organisation for a half-year")
    return _signed_first(reviews, meets).first()


SubjectKey = tuple[str, int]  # (subject kind, the member's or the organisation's pk)


def subject_key(review: LeaderReview) -> SubjectKey:
    if review.is_about_member:
        return (review.subject_kind, review.subject_member_id)
    return (review.subject_kind, review.subject_org_id)


def signed_reviews(*, period: Period, org: Organization) -> dict[SubjectKey, LeaderReview]:
    """The period's signed reviews that `org` owes, by subject (see subject_key), in one query:
    for a quarter, the branch's reviews of its members (("member", member pk)); for a half-year,
    the reviews of its child organisations and their secretaries (("org", child pk),
    ("secretary", child pk)), its own before a linked leader's or a random one."""
    if period.kind == QUARTER:
        reviews = LeaderReview.objects.filter(org=org, subject_kind=SubjectKind.MEMBER)
        meets = None  # one branch: its own reviews
    elif period.kind == HALF:
        reviews = LeaderReview.objects.filter(subject_org__parent=org).exclude(
            subject_kind=SubjectKind.MEMBER
        )
        meets = Q(reviewer_org=org)
    else:
        raise ValueError("reviews are quarterly or half-yearly")
    chosen: dict[SubjectKey, LeaderReview] = {}
    for review in _signed_first(reviews.in_period(period), meets):
        chosen.setdefault(subject_key(review), review)
    return chosen


@dataclass
class ReviewCounts:
    """One organisation's review figures for a period, counted where the obligation is kept
    (`LeaderReview.org`): a branch's members for a quarter; an organisation itself and its
    secretary for a half-year."""

    org_id: int
    owed: int = 0  # reviews due, exemptions left out
    signed: int = 0  # of those, met by a signed review (for an organisation, the parent's)
    exempt: int = 0
    open_rectifications: int = 0  # items from the period's reviews not yet closed

    @property
    def missing(self) -> int:
        return self.owed - self.signed

    @property
    def rate(self) -> float | None:
        return share(self.signed, self.owed)


def review_counts_by_org(*, period: Period, within: Organization) -> dict[int, ReviewCounts]:
    """Per organisation of `within`'s subtree (itself included), its review figures for a
    quarter (members) or a half-year (organisations and secretaries). Four grouped queries
    whatever the size of the subtree; an organisation with nothing to count is absent."""
    in_tree = within.subtree_q("org__")
    counts: dict[int, ReviewCounts] = {}

    def of(org_id: int) -> ReviewCounts:
        return counts.setdefault(org_id, ReviewCounts(org_id))

    if period.kind == QUARTER:
        owed, done = _member_counts(in_tree, period)
        exempt = _member_exempt_counts(in_tree, period)
        for org_id, n in owed.items():
            of(org_id).owed = n
        for org_id, n in done.items():
            of(org_id).signed = n
        for org_id, n in exempt.items():
            of(org_id).exempt = n
        items = ReviewRectification.objects.filter(review__subject_kind=SubjectKind.MEMBER)
    elif period.kind == HALF:
        subjects = {
            (pk, kind)
            for pk, secretary_id in Organization.objects.filter(
                within.subtree_q(), kind__in=REVIEWABLE_KINDS, is_active=True, parent__isnull=False
            ).values_list("pk", "secretary_id")
            for kind in (SubjectKind.ORG, SubjectKind.SECRETARY)
            if kind == SubjectKind.ORG or secretary_id
        }
        exempt = set(
            Exemption.objects.in_period(period).filter(in_tree)
            .exclude(subject_kind=SubjectKind.MEMBER).values_list("subject_org_id", "subject_kind")
        )  # fmt: skip
        met = set(
            parent_reviews(period).filter(in_tree)
            .values_list("subject_org_id", "subject_kind").distinct()
        )  # fmt: skip
        for org_id, kind in subjects:
            if (org_id, kind) in exempt:
                of(org_id).exempt += 1
                continue
            of(org_id).owed += 1
            of(org_id).signed += (org_id, kind) in met
        items = ReviewRectification.objects.exclude(review__subject_kind=SubjectKind.MEMBER)
    else:
        raise ValueError("reviews are quarterly or half-yearly")
    open_items = (
        items.open()
        .filter(in_tree, review__year=period.year, review__period_kind=period.kind)
        .filter(review__period=period.number)
        .values("org_id")
        .annotate(n=Count("pk"))
        .values_list("org_id", "n")
    )
    for org_id, n in open_items:
        of(org_id).open_rectifications = n
    return counts


PeriodKey = tuple[int, int]  # (the member's or the organisation's pk, the period's number)


def signed_reviews_by_subject(
    *,
    year: int,
    member_ids: Iterable[int] | None = None,
    org_ids: Iterable[int] | None = None,
    branch_at: dict[PeriodKey, int] | None = None,
) -> dict[PeriodKey, LeaderReview]:
    """The year's signed reviews of many members (by quarter) or many organisations (by
    half-year), keyed by (subject pk, period number), in one query. As `signed_review`: for a
    member the review the owing branch wrote (`branch_at`: the branch on the roll at each
    quarter's end, when the caller knows it; else the branch the review was written for) before
    another's; for an organisation its parent's before a linked leader's or a random one; the
    corrected version of a corrected review."""
    if (member_ids is None) == (org_ids is None):
        raise TypeError("signed_reviews_by_subject needs exactly one of member_ids and org_ids")
    reviews = LeaderReview.objects.filter(year=year)
    if member_ids is not None:
        reviews = reviews.filter(
            period_kind=QUARTER,
            subject_kind=SubjectKind.MEMBER,
            subject_member_id__in=list(member_ids),
        )
        meets = Q(reviewer_org_id=F("org_id"))
    else:
        reviews = reviews.filter(
            period_kind=HALF, subject_kind=SubjectKind.ORG, subject_org_id__in=list(org_ids)
        )
        meets = Q(reviewer_org_id=F("subject_org__parent_id"))
    chosen: dict[PeriodKey, LeaderReview] = {}
    owed = branch_at if member_ids is not None else None
    for review in _signed_first(reviews, meets):
        subject = review.subject_member_id if member_ids is not None else review.subject_org_id
        key = (subject, review.period)
        known = chosen.get(key)
        if known is None:
            chosen[key] = review
        elif owed and key in owed and known.org_id != owed[key] and review.org_id == owed[key]:
            chosen[key] = review  # the owing branch's, before one written before a back-dated move
    return chosen


def exemptions_by_subject(
    *, year: int, member_ids: Iterable[int] | None = None, org_ids: Iterable[int] | None = None
) -> dict[PeriodKey, Exemption]:
    """The year's 免予点评 of many members (quarters) or organisations (half-years), keyed by
    (subject pk, period number). One query."""
    if (member_ids is None) == (org_ids is None):
        raise TypeError("exemptions_by_subject needs exactly one of member_ids and org_ids")
    found = Exemption.objects.filter(year=year)
    if member_ids is not None:
        found = found.filter(
            period_kind=QUARTER,
            subject_kind=SubjectKind.MEMBER,
            subject_member_id__in=list(member_ids),
        )
        return {(e.subject_member_id, e.period): e for e in found.order_by("pk")}
    found = found.filter(
        period_kind=HALF, subject_kind=SubjectKind.ORG, subject_org_id__in=list(org_ids)
    )
    return {(e.subject_org_id, e.period): e for e in found.order_by("pk")}
