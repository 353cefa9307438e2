"""Reads for the review pages: obligations by rule and the two coverages (全覆盖)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet

from orgs.models import Member, Membership, Organization
from orgs.periods import Period
from orgs.selectors import members_on
from pledges.access import pledges_visible_to
from pledges.models import Pledge, PledgeStatus
from reviews.access import reviews_visible_to
from reviews.models import Exemption, LeaderReview, ReviewRectification, ReviewStatus, SubjectKind
from reviews.services import REVIEWABLE_KINDS

LIVE = (ReviewStatus.DRAFT, ReviewStatus.SIGNED)
# nobody reviews themselves: a review its subject wrote (the service refuses one) counts nowhere
NOT_SELF = Q(by_subject=False)  # no review a member wrote of themselves (see LeaderReview)


def _in_period(period: Period) -> Q:
    return Q(year=period.year, period_kind=period.kind, period=period.number)


def _prefer_signed(reviews, *, key) -> dict:
    """One review per subject: the signed one over a draft (a correction in progress)."""
    chosen: dict = {}
    for review in reviews:
        current = chosen.get(key(review))
        if current is None or (
            current.status != ReviewStatus.SIGNED and review.status == ReviewStatus.SIGNED
        ):
            chosen[key(review)] = review
    return chosen


def percent(part: int, whole: int) -> str:
    """A share as the pages show it: one decimal and a per cent sign, "—" when there is no whole."""
    return f"{100 * part / whole:.1f}%" if whole else "—"


@dataclass
class Row:
    subject: object
    kind: str
    review: LeaderReview | None = None
    exemption: Exemption | None = None
    previous: LeaderReview | None = None

    @property
    def state(self) -> str:
        if self.exemption:
            return "exempt"
        if self.review is None:
            return "missing"
        return self.review.status


def branch_quarter(*, branch: Organization, period: Period) -> list[Row]:
    """Each member owed a review by the branch this quarter (the roll at the quarter's end),
    with the review, an exemption, and last quarter's review beside it. Four queries."""
    members = list(members_on(org=branch, day=period.end).order_by("name", "pk"))
    if branch.secretary_id:  # the secretary is reviewed half-yearly, as the branch's secretary
        members = [m for m in members if m.pk != branch.secretary_id]
    ids = [m.pk for m in members]
    latest = _prefer_signed(
        LeaderReview.objects.filter(
            _in_period(period), NOT_SELF, org=branch, subject_kind=SubjectKind.MEMBER,
            status__in=LIVE, subject_member__in=ids,
        ),
        key=lambda r: r.subject_member_id,
    )  # fmt: skip
    exempt = {
        e.subject_member_id: e
        for e in Exemption.objects.filter(
            _in_period(period), subject_kind=SubjectKind.MEMBER, subject_member__in=ids
        )
    }
    # last quarter's review as this branch wrote it (another branch's is not its to read)
    before = {
        r.subject_member_id: r
        for r in LeaderReview.objects.filter(
            _in_period(period.previous()), NOT_SELF, org=branch, subject_kind=SubjectKind.MEMBER,
            status=ReviewStatus.SIGNED, subject_member__in=ids,
        )
    }  # fmt: skip
    rows = [
        Row(m, SubjectKind.MEMBER, latest.get(m.pk), exempt.get(m.pk), before.get(m.pk))
        for m in members
    ]
    order = {"missing": 0, "draft": 1, "signed": 2, "exempt": 3}
    rows.sort(key=lambda r: order[r.state])
    return rows


def half_year(*, org: Organization, period: Period) -> list[Row]:
    """The child organisations (and their secretaries) owed a review by `org` this half-year."""
    children = list(
        org.get_children()
        .filter(kind__in=REVIEWABLE_KINDS, is_active=True)
        .select_related("secretary")
    )
    ids = [c.pk for c in children]
    latest = _prefer_signed(
        LeaderReview.objects.filter(
            _in_period(period), subject_org__in=ids, reviewer_org=org, status__in=LIVE
        ),
        key=lambda r: (r.subject_org_id, r.subject_kind),
    )
    exempt = {
        (e.subject_org_id, e.subject_kind): e
        for e in Exemption.objects.filter(_in_period(period), subject_org__in=ids)
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

    rate = staticmethod(percent)

    @property
    def member_rate(self) -> str:
        return self.rate(self.members_reviewed, self.members_owed)

    @property
    def org_rate(self) -> str:
        return self.rate(
            self.orgs_reviewed + self.secretaries_reviewed, self.orgs_owed + self.secretaries_owed
        )

    @property
    def reviewer_rate(self) -> str:
        return self.rate(self.reviewers_done, self.reviewers_owed)


def coverage(*, root: Organization, quarter: Period, half: Period) -> dict:
    """全覆盖 for `root`'s subtree: members reviewed in `quarter`, organisations and secretaries
    reviewed in `half`, and reviewers whose every obligation is met — in total and for each child.

    Seven grouped queries whatever the size of the subtree; the roll-up to children is by
    nested-set range over the grouped rows."""
    in_tree = root.subtree_q("org__")
    # Members owed a review by their branch: on its roll at the quarter's end, not its secretary
    # (reviewed half-yearly as such), not exempt; reviewed: with a signed review by that branch,
    # not written by themselves — so reviewed never exceeds owed and the lists beside agree.
    on_roll = Membership.objects.on(quarter.end)

    def exempted(member_ref: str):
        return Exemption.objects.filter(
            _in_period(quarter),
            subject_kind=SubjectKind.MEMBER,
            subject_member_id=OuterRef(member_ref),
        )

    owed = dict(
        on_roll.filter(in_tree)
        .exclude(member_id=F("org__secretary_id"))
        .filter(~Exists(exempted("member_id")))
        .values("org_id")
        .annotate(n=Count("member_id", distinct=True))
        .values_list("org_id", "n")
    )
    # Counted from the reviews, each tested against the roll in the WHERE clause: the database
    # joins the roll once (a hash semi-join) instead of probing the reviews for every member.
    done = dict(
        LeaderReview.objects.filter(
            _in_period(quarter),
            NOT_SELF,
            in_tree,
            subject_kind=SubjectKind.MEMBER,
            status=ReviewStatus.SIGNED,
        )  # fmt: skip
        .exclude(subject_member_id=F("org__secretary_id"))
        .filter(
            Exists(
                on_roll.filter(member_id=OuterRef("subject_member_id"), org_id=OuterRef("org_id"))
            )
        )
        .filter(~Exists(exempted("subject_member_id")))
        .values("org_id")
        .annotate(n=Count("subject_member_id", distinct=True))
        .values_list("org_id", "n")
    )
    counts = {org_id: (n, done.get(org_id, 0)) for org_id, n in owed.items()}
    orgs = list(
        Organization.objects.filter(root.subtree_q(), is_active=True)
        .order_by("lft")
        .values_list("pk", "lft", "parent_id", "kind", "secretary_id")
    )
    parent_of = {pk: parent_id for pk, _, parent_id, *_ in orgs}
    org_done = {  # only the parent's review meets the obligation; other leaders' are extra
        (subject, kind)
        for subject, kind, reviewer_org in LeaderReview.objects.filter(
            _in_period(half), in_tree, status=ReviewStatus.SIGNED
        )
        .exclude(subject_kind=SubjectKind.MEMBER)
        .values_list("subject_org_id", "subject_kind", "reviewer_org_id")
        .distinct()
        if parent_of.get(subject) == reviewer_org
    }
    org_exempt = set(
        Exemption.objects.filter(_in_period(half), in_tree).exclude(subject_kind=SubjectKind.MEMBER)
        .values_list("subject_org_id", "subject_kind")
    )  # fmt: skip
    children = list(root.get_children().filter(is_active=True).order_by("lft"))
    starts = [c.lft for c in children]
    total = Coverage(root)
    parts = {c.pk: Coverage(c) for c in children}
    reviewer_gaps: dict[int, int] = {}  # reviewer org → obligations not met

    def bucket(lft: int) -> Coverage | None:
        i = bisect.bisect_right(starts, lft) - 1
        return parts[children[i].pk] if i >= 0 and lft <= children[i].rght else None

    lft_of = {pk: lft for pk, lft, *_ in orgs}
    for pk, lft, parent_id, kind, secretary_id in orgs:
        part = bucket(lft)
        targets = [total] + ([part] if part else [])
        members_owed, members_done = counts.get(pk, (0, 0))
        if members_owed > 0:
            reviewer_gaps[pk] = reviewer_gaps.get(pk, 0) + members_owed - members_done
        reviewable = kind in REVIEWABLE_KINDS and parent_id is not None and pk != root.pk
        for t in targets:
            t.members_owed += members_owed
            t.members_reviewed += members_done
        if not reviewable:
            continue
        kinds = [SubjectKind.ORG] + ([SubjectKind.SECRETARY] if secretary_id else [])
        for subject_kind in kinds:
            if (pk, subject_kind) in org_exempt:
                continue
            done = (pk, subject_kind) in org_done
            if parent_id in lft_of:
                reviewer_gaps[parent_id] = reviewer_gaps.get(parent_id, 0) + (not done)
            for t in targets:
                if subject_kind == SubjectKind.ORG:
                    t.orgs_owed += 1
                    t.orgs_reviewed += done
                else:
                    t.secretaries_owed += 1
                    t.secretaries_reviewed += done
    for pk, gap in reviewer_gaps.items():
        part = bucket(lft_of[pk])
        for t in [total] + ([part] if part else []):
            t.reviewers_owed += 1
            t.reviewers_done += gap == 0
    missing = sorted(((g, pk) for pk, g in reviewer_gaps.items() if g), reverse=True)[:100]
    missing_orgs = Organization.objects.in_bulk([pk for _, pk in missing])
    total.gaps = [(missing_orgs[pk], g) for g, pk in missing]
    return {"total": total, "children": list(parts.values())}


PUBLIC_PLEDGES = (PledgeStatus.PUBLISHED, PledgeStatus.EVALUATED)  # 示诺 onwards: anyone reads them


def pledges_beside(
    *, user, year: int, member: Member | None = None, org: Organization | None = None
) -> QuerySet[Pledge]:
    """The subject's pledges of the year to read beside a review form: the published ones, and
    the others only where the writer may read them (pledges.access decides)."""
    pledges = Pledge.objects.filter(year=year)
    pledges = (
        pledges.filter(owner_member=member) if member is not None else pledges.filter(owner_org=org)
    )
    return pledges.filter(
        Q(status__in=PUBLIC_PLEDGES) | Q(pk__in=pledges_visible_to(user).values("pk"))
    ).order_by("created_at", "pk")


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
    reviews = reviews_visible_to(user).filter(
        before, period_kind=period.kind, subject_kind=kind, status=ReviewStatus.SIGNED
    )
    reviews = (
        reviews.filter(subject_member=member)
        if kind == SubjectKind.MEMBER
        else reviews.filter(subject_org=org)
    )
    return reviews.order_by("-year", "-period", "-version").first()


def member_reviews(*, user, member: Member) -> list[LeaderReview]:
    """A member's leader reviews (as a member, and as a secretary) that the user may read, the
    latest first; a version replaced by its correction is left out. One query."""
    return list(
        reviews_visible_to(user)
        .filter(NOT_SELF, subject_member=member, status__in=LIVE)
        .select_related("subject_org")
        .order_by("-year", "-period_kind", "-period", "-version", "-pk")
    )


def missing_members(*, branch: Organization, period: Period) -> list:
    return [
        r.subject
        for r in branch_quarter(branch=branch, period=period)
        if r.state in ("missing", "draft")
    ]


def items_for(*, user, within: Organization | None = None) -> QuerySet[ReviewRectification]:
    """Rectification items the user set, or that concern organisations in the user's reading scope."""
    from orgs.access import Action, orgs_for

    scope = orgs_for(user, Action.EXPORT).values("pk")
    items = ReviewRectification.objects.filter(
        Q(review__reviewer=user) | Q(org__in=scope) | Q(review__subject_member__user_id=user.pk)
    )
    if within is not None:
        items = items.filter(within.subtree_q("org__"))
    return items.select_related(
        "review", "review__subject_member", "review__subject_org", "org"
    ).order_by("status", "deadline", "pk")
