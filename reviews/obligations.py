"""The deadlines this app owns and its obligation rules (who still owes what before each).

- 党员季度点评 (`member_review`): each quarter a branch's leaders review its members; what is owed
  is the branch quarter page's rule (reviews.selectors: the roll at the quarter's end, not the
  branch's secretary, not exempted; met by a signed review by the branch).
- 党组织及书记半年点评 (`org_review`): each half-year the leaders of an organisation review its
  reviewable children and their secretaries; what is owed is the half-year page's rule (met by
  the parent's signed review, or waived by an exemption). The parent is the organisation that
  owes the work.
- 年度民主评议 (`appraisal`): each year an organisation appraises its members (when it has any on
  its roll) and the basic-level organisations directly under it (when it has any); met by a
  session of that kind for the year whose results are published.

Each rule answers for every organisation at once (`org_ids=None`: the reminders sweep) in one
grouped query, or for the given organisations only (a secretary's home page, the sender's
recheck). Inactive organisations owe nothing. The grouped rows (one per organisation, never one
per member) are read whole rather than through a server-side cursor (`.iterator()`): for a
cursor PostgreSQL plans for the first rows and without parallel workers, which made the member
rule three times slower on a province of 98,000 organisations and 2 million members.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, F, OuterRef, Q
from django.urls import reverse

from orgs.deadlines import DeadlineKind, Gap, register_deadline
from orgs.models import MEMBER_HOLDING_KINDS, Membership, Organization
from orgs.periods import HALF, QUARTER, YEAR, Period
from reviews.appraisal.models import Appraisal, AppraisalKind
from reviews.models import REVIEWABLE_KINDS, Exemption, LeaderReview, SubjectKind
from reviews.selectors import _exempted_member

MEMBER_REVIEW, ORG_REVIEW, APPRAISAL = "member_review", "org_review", "appraisal"

_MARK = 987654321  # an id no organisation has, replaced in the one reversed address


def _org_urls(name: str, *after) -> Callable[[int], str]:
    """An organisation's address on the page `name`, for any number of organisations: reverse()
    costs a tenth of a millisecond, too much to call for each of 100,000 organisations."""
    path = reverse(name, args=[_MARK, *after])
    if path.count(str(_MARK)) != 1:
        return lambda org_id: reverse(name, args=[org_id, *after])
    head, _, tail = path.partition(str(_MARK))
    return lambda org_id: f"{head}{org_id}{tail}"


def _in_scope(org_ids: set[int] | None, prefix: str = "") -> Q:
    scope = Q(**{f"{prefix}is_active": True})
    if org_ids is not None:
        scope &= Q(**{f"{prefix}pk__in": sorted(org_ids)})
    return scope


# ---------------------------------------------------------------- 党员季度点评


def _members_missing(scope: Q, quarter: Period):
    """Per branch: the members owed a review this quarter and not reviewed — `_member_counts`'s
    owed less its reviewed, as one anti-join of the roll against the signed reviews (the two
    counts apart sort every member on the roll: twice as slow at province scale)."""
    signed = (
        LeaderReview.objects.signed()
        .in_period(quarter)
        .not_by_subject()
        .filter(
            subject_kind=SubjectKind.MEMBER,
            org=OuterRef("org_id"),
            subject_member=OuterRef("member_id"),
        )
    )
    return (
        Membership.objects.on(quarter.end)
        .filter(scope)
        .exclude(member_id=F("org__secretary_id"))
        .filter(~Exists(_exempted_member(quarter, "member_id")))
        .filter(~Exists(signed))
        .order_by()
        .values("org_id")
        .annotate(n=Count("member_id", distinct=True))
        .values_list("org_id", "n")
    )


def member_review_gaps(period: Period, org_ids: set[int] | None = None) -> Iterator[Gap]:
    """Per branch: its members still owed a signed review this quarter, the names
    `selectors.missing_members` lists (one grouped query)."""
    if org_ids is not None and not org_ids:
        return
    url = _org_urls("reviews:quarter", period.slug)
    rows = _members_missing(_in_scope(org_ids, "org__"), period)
    for org_id, missing in rows:
        yield Gap(org_id=org_id, count=missing, text=f"{missing} 名党员未点评", url=url(org_id))


# ---------------------------------------------------------------- 党组织及书记半年点评


def _open(period: Period, kind: str, parents: set[int] | None) -> Q:
    """A child organisation (the outer row) still owed the review of `kind` by its parent: no
    signed review by the parent this half-year, and not exempted. With `parents`, only their
    reviews are read (PostgreSQL would otherwise hash the whole half-year's)."""
    signed = (
        LeaderReview.objects.signed()
        .in_period(period)
        .filter(subject_kind=kind, subject_org=OuterRef("pk"), reviewer_org=OuterRef("parent_id"))
    )
    if parents is not None:
        signed = signed.filter(reviewer_org__in=sorted(parents))
    exempt = Exemption.objects.in_period(period).filter(
        subject_kind=kind, subject_org=OuterRef("pk")
    )
    return ~Exists(signed) & ~Exists(exempt)


def org_review_gaps(period: Period, org_ids: set[int] | None = None) -> Iterator[Gap]:
    """Per parent organisation: its reviewable children (those of `selectors.half_year`) of
    which the organisation or its secretary is still owed a review this half-year (one query,
    grouped by parent)."""
    if org_ids is not None and not org_ids:
        return
    flag = BooleanField()
    rows = (
        Organization.objects.filter(_in_scope(org_ids, "parent__"))
        .filter(kind__in=REVIEWABLE_KINDS, is_active=True)
        .annotate(
            org_open=ExpressionWrapper(_open(period, SubjectKind.ORG, org_ids), output_field=flag),
            secretary_open=ExpressionWrapper(
                Q(secretary__isnull=False) & _open(period, SubjectKind.SECRETARY, org_ids),
                output_field=flag,
            ),
        )
        .filter(Q(org_open=True) | Q(secretary_open=True))
        .order_by()
        .values("parent_id")
        .annotate(
            children=Count("pk"),
            orgs=Count("pk", filter=Q(org_open=True)),
            secretaries=Count("pk", filter=Q(secretary_open=True)),
        )
        .values_list("parent_id", "children", "orgs", "secretaries")
    )
    url = _org_urls("reviews:half", period.slug)
    for parent_id, children, orgs, secretaries in rows:
        parts = [f"{orgs} 个下级党组织"] if orgs else []
        parts += [f"{secretaries} 名下级党组织书记"] if secretaries else []
        yield Gap(
            org_id=parent_id, count=children, text="、".join(parts) + "未点评", url=url(parent_id)
        )


# ---------------------------------------------------------------- 年度民主评议


def appraisal_gaps(period: Period, org_ids: set[int] | None = None) -> Iterator[Gap]:
    """Per organisation: the appraisals it runs (those `appraisal.selectors.kinds_for` offers:
    of its members while it has any on its roll at the year's end; of the basic-level
    organisations directly under it) with no session of the year whose results are published
    (one query)."""
    if org_ids is not None and not org_ids:
        return
    year = period.year
    published = Appraisal.objects.published().filter(org=OuterRef("pk"), year=year)
    on_roll = Membership.objects.on(period.end).filter(org=OuterRef("pk"))
    below = Organization.objects.filter(
        parent=OuterRef("pk"), is_active=True, kind__in=MEMBER_HOLDING_KINDS
    )
    flag = BooleanField()
    rows = (
        Organization.objects.filter(_in_scope(org_ids))
        .annotate(
            owes_members=ExpressionWrapper(
                Q(kind__in=MEMBER_HOLDING_KINDS)
                & Exists(on_roll)
                & ~Exists(published.filter(kind=AppraisalKind.MEMBER)),
                output_field=flag,
            ),
            owes_orgs=ExpressionWrapper(
                Exists(below) & ~Exists(published.filter(kind=AppraisalKind.ORG)),
                output_field=flag,
            ),
        )
        .filter(Q(owes_members=True) | Q(owes_orgs=True))
        .order_by()
        .values_list("pk", "owes_members", "owes_orgs")
    )
    list_url = _org_urls("appraisal:list")
    for org_id, owes_members, owes_orgs in rows:
        labels = [AppraisalKind.MEMBER.label] if owes_members else []
        labels += [AppraisalKind.ORG.label] if owes_orgs else []
        yield Gap(
            org_id=org_id,
            count=len(labels),
            text=f"{year}年{'、'.join(labels)}尚未公开结果",
            url=f"{list_url(org_id)}?year={year}",
        )


# ---------------------------------------------------------------- the kinds


MEMBER_REVIEW_KIND = DeadlineKind(
    key=MEMBER_REVIEW,
    label="党员季度点评",
    period_kind=QUARTER,
    default_due=lambda p: p.end,
    gaps=member_review_gaps,
    source="黑创先办[2010]12号 二.3：对党员的点评每季度进行一次",
    order=50,
)
ORG_REVIEW_KIND = DeadlineKind(
    key=ORG_REVIEW,
    label="党组织及书记半年点评",
    period_kind=HALF,
    default_due=lambda p: p.end,
    gaps=org_review_gaps,
    source=(
        "黑创先办[2010]12号 二.3：对基层党组织及其书记的点评每半年至少进行一次；"
        "兵创先组发〔2011〕3号 一：“七·一”前开展阶段性的领导点评，年底进行全面的领导点评"
    ),
    order=51,
)
APPRAISAL_KIND = DeadlineKind(
    key=APPRAISAL,
    label="年度民主评议",
    period_kind=YEAR,
    default_due=lambda p: p.end,  # 31 December
    gaps=appraisal_gaps,
    source=(
        "黑创先办[2010]12号 三：民主评议原则上每年进行一次；"
        "兵创先组发〔2011〕3号 一：年底进行全面的领导点评和群众评议"
    ),
    order=52,
)


def register() -> None:
    """Declare this app's deadline kinds (called once from the AppConfig)."""
    for kind in (MEMBER_REVIEW_KIND, ORG_REVIEW_KIND, APPRAISAL_KIND):
        register_deadline(kind)
