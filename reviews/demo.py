"""Demo reviews: member reviews for every quarter begun this year and organisation/secretary
reviews for every half-year begun, mostly signed, a few drafts and gaps. Bulk-written (COPY on
PostgreSQL). At small scale every secretary gets a login of their own to sign with; at province
scale (benchmarks) one account stands for the reviewers, and the year's exemptions and
rectification items follow (`seed_activity`)."""

from __future__ import annotations

import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from orgs import services as org_services
from orgs.demo import DEMO_PASSWORD, bulk_copy, reset_sequences
from orgs.models import MEMBER_HOLDING_KINDS, Member, Membership, Organization, Role
from orgs.periods import HALF, QUARTER, Period
from reviews.models import (
    Exemption,
    LeaderReview,
    ReviewEvent,
    ReviewRectification,
    SubjectKind,
)

COLUMNS = [
    "reviewer_id", "reviewer_name", "reviewer_post", "reviewer_org_id", "subject_kind",
    "subject_org_id", "subject_member_id", "org_id", "method", "reviewed_on", "achievements",
    "shortcomings", "direction", "scope", "status", "version", "previous_id", "signed_at",
    "created_at", "updated_at", "year", "period_kind", "period",
]  # fmt: skip
MEMBER_TEXT = (
    "积极参加组织生活，按时完成承诺事项",
    "联系群众还不够经常",
    "多走访群众，发挥先锋模范作用",
)
ORG_TEXT = (
    "组织开展公开承诺，为群众办实事",
    "党员教育管理还需加强",
    "落实“三会一课”，建设服务型党组织",
)


def _reviewers(scale: str, secretaries: dict[int, tuple[int, str]]) -> dict[int, tuple[int, str]]:
    """org id → (user id, name) of the person who signs in the organisation's name."""
    User = get_user_model()
    if scale != "small":
        user, _ = User.objects.get_or_create(
            username="bench_reviewer", defaults={"first_name": "点评人"}
        )
        return {org_id: (user.pk, "点评人") for org_id in secretaries}
    password = make_password(DEMO_PASSWORD)
    result = {}
    codes = dict(Organization.objects.filter(pk__in=secretaries).values_list("pk", "code"))
    for org_id, (member_id, name) in secretaries.items():
        member = Member.objects.get(pk=member_id)
        user = member.user
        if user is None:
            user = User.objects.create(
                username=f"sj_{codes[org_id].lower()}", first_name=name, password=password
            )
            Member.objects.filter(pk=member_id).update(user=user)
        org = Organization.objects.get(pk=org_id)
        if not org_services.role_grant_exists(user=user, org=org, role=Role.SECRETARY):
            org_services.role_grant(by=None, user=user, org=org, role=Role.SECRETARY)
        result[org_id] = (user.pk, name)
    return result


def seed(*, scale: str, rng, today: datetime.date, log) -> dict:
    orgs = list(
        Organization.objects.filter(is_active=True).values_list(
            "pk", "parent_id", "kind", "name", "secretary_id"
        )
    )
    sec_of = {pk: secretary_id for pk, _, _, _, secretary_id in orgs if secretary_id}
    names = dict(Member.objects.filter(pk__in=sec_of.values()).values_list("pk", "name"))
    secretaries = {org_id: (member_id, names[member_id]) for org_id, member_id in sec_of.items()}
    reviewers = _reviewers(scale, secretaries)
    org_name = {pk: name for pk, _, _, name, _ in orgs}
    members = list(Member.objects.order_by("pk").values_list("pk", "org_id", "joined_on"))
    # A member transferred during the year is reviewed, for each quarter, by the branch whose roll
    # held them at its end; only the closed stays (few) are read, the current one is `org_id`.
    closed_stays = list(
        Membership.objects.filter(
            end__isnull=False, end__gt=datetime.date(today.year, 1, 1)
        ).values_list("member_id", "org_id", "start", "end")
    )
    year, now = today.year, timezone.now()
    quarters = [p for p in Period.all_of(year, QUARTER) if p.has_begun(today)]
    halves = [p for p in Period.all_of(year, HALF) if p.has_begun(today)]
    count = 0

    def state(period: Period) -> str | None:
        roll = rng.random()
        current = period.end >= today
        if roll < (0.35 if current else 0.04):
            return None
        return "draft" if roll < (0.45 if current else 0.07) else "signed"

    def rows():
        nonlocal count
        for period in quarters:
            branch_then = {
                member_id: org_id
                for member_id, org_id, start, end in closed_stays
                if start <= period.end < end
            }
            for member_id, current_org_id, joined_on in members:
                if member_id not in branch_then and joined_on > period.end:
                    continue  # not yet a member at the quarter's end: nobody owes a review
                org_id = branch_then.get(member_id, current_org_id)
                status = state(period)
                reviewer = reviewers.get(org_id)
                # nobody reviews themselves: the branch secretary is reviewed by the level above
                if status is None or reviewer is None or sec_of.get(org_id) == member_id:
                    continue
                count += 1
                day = min(period.end, today) - datetime.timedelta(days=rng.randint(0, 20))
                yield (
                    reviewer[0], reviewer[1], f"{org_name[org_id]}书记", org_id, "member", None, member_id,
                    org_id, "individual", day, *MEMBER_TEXT, "", status, 1, None,
                    now if status == "signed" else None, now, now, year, QUARTER, period.number,
                )  # fmt: skip
        for period in halves:
            for pk, parent_id, kind, _, secretary_id in orgs:
                if kind not in MEMBER_HOLDING_KINDS or parent_id not in reviewers:
                    continue
                reviewer = reviewers[parent_id]
                for subject_kind in ("org", "secretary") if secretary_id else ("org",):
                    status = state(period)
                    if status is None:
                        continue
                    count += 1
                    day = min(period.end, today) - datetime.timedelta(days=rng.randint(0, 30))
                    yield (
                        reviewer[0], reviewer[1], f"{org_name[parent_id]}书记", parent_id, subject_kind, pk,
                        secretary_id if subject_kind == "secretary" else None, pk, "central", day, *ORG_TEXT,
                        "", status, 1, None, now if status == "signed" else None, now, now, year, HALF,
                        period.number,
                    )  # fmt: skip

    log("领导点评写入中…")
    bulk_copy(LeaderReview._meta.db_table, COLUMNS, rows())
    reset_sequences([LeaderReview])
    if scale == "small":
        ReviewEvent.objects.bulk_create(
            (
                ReviewEvent(review_id=pk, action="create")
                for pk in LeaderReview.objects.values_list("pk", flat=True)
            ),
            batch_size=2000,
        )
    log(f"领导点评 {count} 份。")
    if scale == "small":
        return {"reviews": count}
    return {"reviews": count, **seed_activity(rng=rng, today=today, log=log)}


# ---------------------------------------------------------------- province scale: the year's activity

# of those not reviewed in a period, the share whose review is waived (免予点评): the periods
# ended, the current one
EXEMPTED = (0.3, 0.03)
EXEMPTION_REASONS = (
    "长期患病住院，经上级党组织同意免予点评。",
    "外出务工，长期联系不上，经上级党组织同意免予点评。",
    "年老体弱、行动不便，经上级党组织同意免予点评。",
)
RECTIFY_EVERY = 50  # one signed review in so many (by id) sets rectification items
REQUIREMENTS = (
    "联系群众还不够经常，限期走访联系户并报告走访情况。",
    "承诺事项推进较慢，限期制定推进计划并落实。",
    "党员教育管理不够规范，限期健全“三会一课”记录。",
)
RESPONSE = "已按要求完成整改，整改材料已报上级党组织。"
EXEMPTION_COLUMNS = [
    "year", "period_kind", "period", "subject_kind", "subject_org_id", "subject_member_id",
    "org_id", "reason", "by_id", "at",
]  # fmt: skip
RECTIFICATION_COLUMNS = [
    "review_id", "org_id", "requirement", "deadline", "status", "response", "issued_by_id",
    "issued_at", "closed_at",
]  # fmt: skip


def seed_activity(*, rng, today: datetime.date, log) -> dict:
    """Province scale: exemptions (免予点评) for a share of those not reviewed in each period
    begun this year — members quarterly in the branch that held them at the quarter's end (never
    a branch's own secretary, who is reviewed above), organisations and their secretaries
    half-yearly — and rectification items on a share of the signed reviews (open, reported or
    closed; some past their deadline). Found with a few grouped queries, written with COPY."""
    year, now = today.year, timezone.now()
    log("免予点评、点评整改写入中…")
    exemptions = []
    for period in [p for p in Period.all_of(year, QUARTER) if p.has_begun(today)]:
        share = EXEMPTED[0] if period.end < today else EXEMPTED[1]
        reviewed = (
            LeaderReview.objects.live()
            .in_period(period)
            .filter(subject_kind=SubjectKind.MEMBER, subject_member=OuterRef("member_id"))
        )
        unreviewed = (
            Membership.objects.on(period.end)
            .exclude(Exists(reviewed))
            .exclude(org__secretary_id=F("member_id"))
            .order_by("member_id")
            .values_list("member_id", "org_id")
        )
        exemptions += [
            (year, QUARTER, period.number, SubjectKind.MEMBER, None, member_id, org_id,
             rng.choice(EXEMPTION_REASONS), None, now)
            for member_id, org_id in unreviewed
            if rng.random() < share
        ]  # fmt: skip
    for period in [p for p in Period.all_of(year, HALF) if p.has_begun(today)]:
        share = EXEMPTED[0] if period.end < today else EXEMPTED[1]
        for subject_kind in (SubjectKind.ORG, SubjectKind.SECRETARY):
            reviewed = (
                LeaderReview.objects.live()
                .in_period(period)
                .filter(subject_kind=subject_kind, subject_org=OuterRef("pk"))
            )
            owing = Organization.objects.filter(
                is_active=True, kind__in=MEMBER_HOLDING_KINDS, parent__isnull=False
            )
            if subject_kind == SubjectKind.SECRETARY:
                owing = owing.filter(secretary__isnull=False)
            unreviewed = owing.exclude(Exists(reviewed)).order_by("pk").values_list("pk", flat=True)
            exemptions += [
                (year, HALF, period.number, subject_kind, org_id,
                 secretary if subject_kind == SubjectKind.SECRETARY else None, org_id,
                 rng.choice(EXEMPTION_REASONS[:1]), None, now)
                for org_id, secretary in _with_secretaries(unreviewed)
                if rng.random() < share
            ]  # fmt: skip
    bulk_copy(Exemption._meta.db_table, EXEMPTION_COLUMNS, exemptions)
    items = [
        _rectification(review, today, rng)
        for review in LeaderReview.objects.signed()
        .filter(year=year)
        .annotate(every=F("id") % RECTIFY_EVERY)
        .filter(every=0)
        .order_by("id")
        .values_list("id", "org_id", "reviewer_id", "reviewed_on")
    ]
    bulk_copy(ReviewRectification._meta.db_table, RECTIFICATION_COLUMNS, items)
    log(f"免予点评 {len(exemptions)} 项，点评整改事项 {len(items)} 项。")
    return {"exemptions": len(exemptions), "review_rectifications": len(items)}


def _with_secretaries(org_ids) -> list[tuple[int, int | None]]:
    ids = list(org_ids)
    secretaries = dict(Organization.objects.filter(pk__in=ids).values_list("pk", "secretary_id"))
    return [(pk, secretaries.get(pk)) for pk in ids]


def _rectification(review, today: datetime.date, rng) -> tuple:
    """An item set on a signed review a few days after it, with its deadline and its state."""
    pk, org_id, reviewer_id, reviewed_on = review
    issued = min(reviewed_on + datetime.timedelta(days=rng.randint(0, 7)), today)
    deadline = issued + datetime.timedelta(days=rng.randint(15, 45))
    roll = rng.random()
    if deadline < today:
        status = "closed" if roll < 0.6 else "reported" if roll < 0.8 else "open"
    else:
        status = "closed" if roll < 0.1 else "reported" if roll < 0.4 else "open"
    closed_on = max(min(deadline, today) - datetime.timedelta(days=rng.randint(0, 5)), issued)
    return (
        pk, org_id, rng.choice(REQUIREMENTS), deadline, status,
        "" if status == "open" else RESPONSE, reviewer_id, _at(issued),
        _at(closed_on) if status == "closed" else None,
    )  # fmt: skip


def _at(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(10)))
