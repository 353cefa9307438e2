"""Reads for the appraisal pages, the 写实簿 and the statistics."""

from __future__ import annotations

from django.db.models import Count, QuerySet
from django.http import Http404

from orgs import access
from orgs.access import Action, grants_for
from orgs.models import Member, Organization
from pledges.models import Pledge, PledgeStatus
from reviews.appraisal import rules
from reviews.appraisal.models import (
    SMALL_GROUP,
    Appraisal,
    AppraisalKind,
    AppraisalState,
    AppraisalSubject,
    Group,
    ResultGrade,
    Slip,
)
from reviews.selectors import percent


def may_view(user, appraisal: Appraisal) -> bool:
    """The running organisation's readers and members; for an appraisal of organisations, also
    anyone holding a role in an organisation appraised or below one."""
    org = appraisal.org
    if access.can(user, Action.VIEW, org):
        return True
    if appraisal.kind != AppraisalKind.ORG:
        return False
    below = [g for g in grants_for(user) if g.tree_id == org.tree_id and org.lft < g.lft < org.rght]
    if not below:
        return False
    ranges = AppraisalSubject.objects.filter(appraisal=appraisal).values_list(
        "subject_org__lft", "subject_org__rght"
    )
    return any(lft <= g.lft <= rght for lft, rght in ranges for g in below)


def get_appraisal_or_404(user, pk) -> Appraisal:
    appraisal = (
        Appraisal.objects.select_related("org", "org__parent")
        .filter(pk=access.object_id(pk))
        .first()
    )
    if appraisal is None or not may_view(user, appraisal):
        raise Http404("没有找到该评议。")
    return appraisal


def get_subject_or_404(user, pk) -> AppraisalSubject:
    subject = (
        AppraisalSubject.objects.select_related(
            "appraisal", "appraisal__org", "member", "subject_org"
        )
        .filter(pk=access.object_id(pk))
        .first()
    )
    if subject is None:
        raise Http404("没有找到该评议对象。")
    own = subject.member_id and access.is_own_record(user, subject.member)
    if not (own or may_view(user, subject.appraisal)):
        raise Http404("没有找到该评议对象。")
    return subject


def org_appraisals(*, org: Organization) -> QuerySet[Appraisal]:
    return Appraisal.objects.filter(org=org).order_by("-year", "kind")


def subtree_appraisals(*, org: Organization, year: int | None = None) -> QuerySet[Appraisal]:
    """Sessions run by `org` and every organisation below it (one query through the nested-set
    range; the caller pages it), newest first, then in tree order. A role at `org` reaches them
    all, so whoever sees `org` may open each of them."""
    found = Appraisal.objects.filter(
        org__tree_id=org.tree_id, org__lft__gte=org.lft, org__lft__lte=org.rght
    )
    if year is not None:
        found = found.filter(year=year)
    return found.select_related("org").order_by("-year", "org__lft", "kind", "pk")


def subtree_years(*, org: Organization) -> list[int]:
    """The years that have sessions in `org`'s subtree, for the year filter (one query)."""
    return list(
        Appraisal.objects.filter(
            org__tree_id=org.tree_id, org__lft__gte=org.lft, org__lft__lte=org.rght
        )
        .order_by("-year")
        .values_list("year", flat=True)
        .distinct()
    )


def subjects(*, appraisal: Appraisal) -> QuerySet[AppraisalSubject]:
    return AppraisalSubject.objects.filter(appraisal=appraisal).order_by("position")


def subject_pledges(*, subject: AppraisalSubject, public_only: bool = True) -> QuerySet[Pledge]:
    """The subject's pledges of the year, with their 评诺 results, to read beside the 述职: the
    published ones (示诺 onwards) for readers; all of them for who writes the statement."""
    year = subject.appraisal.year
    if subject.member_id:
        pledges = Pledge.objects.filter(owner_member_id=subject.member_id, year=year)
    else:
        pledges = Pledge.objects.filter(owner_org_id=subject.subject_org_id, year=year)
    if public_only:
        pledges = pledges.filter(status__in=[PledgeStatus.PUBLISHED, PledgeStatus.EVALUATED])
    return pledges.order_by("due_date", "pk")


def results(*, appraisal: Appraisal, user) -> dict:
    """Everything the results page shows, from the tally frozen at closing: a fixed number of
    queries (the subjects and the rule) whatever the number of ballots."""
    tally = appraisal.tally or {}
    runner = access.can(user, Action.EDIT, appraisal.org)
    ballots = tally.get("ballots", 0)
    participants = tally.get("participants", {})
    show_counts = runner or ballots >= SMALL_GROUP
    by_group = group_ballots(tally)
    present = [g for g in appraisal.groups if by_group.get(str(g))]
    # A group below the threshold is never shown apart, to anyone (the running secretary
    # included: one 群众 slip would show that person's whole ballot), and then no group is: the
    # others' rows beside the totals would give it away by subtraction.
    if show_counts and all(by_group[str(g)] >= SMALL_GROUP for g in present):
        shown_groups = present
    else:
        shown_groups = []
    thresholds = rules.thresholds_for(org=appraisal.org, year=appraisal.year)
    if appraisal.state == AppraisalState.PUBLISHED:
        low_turnout = appraisal.low_turnout  # as frozen when it was published
    else:
        low_turnout = rules.turnout_low(appraisal, thresholds)
    by_position = {row["position"]: row for row in tally.get("subjects", [])}
    rows = []
    for subject in subjects(appraisal=appraisal).select_related("decided_by"):
        counts = subject.counts or [0] * 5
        graded = sum(counts[:4])
        row = {
            "subject": subject,
            "counts": counts,
            "graded": graded,
            "shares": [percent(c, graded) for c in counts[:4]],
            "groups": [
                (g.label, by_position.get(subject.position, {}).get("groups", {}).get(str(g)))
                for g in shown_groups
            ],
        }
        if appraisal.kind == AppraisalKind.ORG:
            row["satisfaction"] = percent(counts[0] + counts[1], graded)
            row["commended"] = (
                show_counts and graded >= SMALL_GROUP and rules.commended_org(counts, thresholds)
            )
        else:
            row["commended"] = subject.final_grade == ResultGrade.EXCELLENT
        row["commended"] = row["commended"] and not low_turnout
        rows.append(row)
    return {
        "rows": rows,
        "scale": appraisal.scale,
        "tally": tally,
        "runner": runner,
        "show_counts": show_counts,
        "shown_groups": [g.label for g in shown_groups],
        "hidden_groups": [g.label for g in present if g not in shown_groups],
        "thresholds": thresholds,
        "commended": [r for r in rows if r["commended"]],
        "participants": [(Group(g).label, n) for g, n in participants.items() if g in Group.values],
        "small": SMALL_GROUP,
        "turnout": appraisal.turnout_percent,
        "low_turnout": low_turnout,
    }


def small_slip_groups(*, appraisal: Appraisal) -> list[tuple[str, int]]:
    """Groups with some slips printed but fewer than SMALL_GROUP (voided ones left out), as
    (label, slips): unless more come (or paper sheets), they will never be shown apart. One
    query."""
    printed = dict(
        Slip.objects.filter(appraisal=appraisal, voided=False)
        .values("group")
        .annotate(n=Count("pk"))
        .values_list("group", "n")
    )
    return [
        (g.label, printed[str(g)])
        for g in appraisal.groups
        if 0 < printed.get(str(g), 0) < SMALL_GROUP
    ]


def group_ballots(tally: dict) -> dict[str, int]:
    """Ballots counted per group (spoiled sheets left out): a subject's row of a group sums to
    them, blanks included."""
    subjects = tally.get("subjects") or []
    if not subjects:
        return {}
    return {g: sum(cells) for g, cells in subjects[0].get("groups", {}).items()}


def record_entries(*, member: Member | None = None, org: Organization | None = None) -> list[dict]:
    """Published appraisal results of a member or an organisation, for its record and the
    写实簿: the counts on the four grades, the participants and the grade (members); a session
    that left the subject out (暂缓评议) gives an entry with the reason. A session of fewer than
    SMALL_GROUP ballots gives no counts and no satisfaction (`few_ballots`); no entry ever gives
    a participant group's counts."""
    found = AppraisalSubject.objects.filter(appraisal__state=AppraisalState.PUBLISHED)
    found = found.filter(member=member) if member is not None else found.filter(subject_org=org)
    entries = []
    for subject in found.select_related("appraisal", "appraisal__org").order_by("-appraisal__year"):
        tally = subject.appraisal.tally or {}
        # a session of fewer than SMALL_GROUP ballots: its counts are for the running secretary's
        # results page only, never in a record read by others (nor any group's counts, ever)
        few = tally.get("ballots", 0) < SMALL_GROUP
        entries.append(
            {
                "year": subject.appraisal.year,
                "appraisal": subject.appraisal,
                "subject": subject,
                "counts": None if few else (subject.counts or [0] * 5)[:4],
                "party_participants": tally.get("party_participants", 0),
                "mass_participants": tally.get("mass_participants", 0),
                "grade": subject.get_final_grade_display(),
                "satisfaction": None if few else subject.satisfaction,
                "ballots": tally.get("ballots", 0),
                "few_ballots": few,
                "excluded": "",
            }
        )
    key = f"m{member.pk}" if member is not None else f"o{org.pk}"
    for appraisal in Appraisal.objects.filter(
        state=AppraisalState.PUBLISHED, excluded__has_key=key
    ).select_related("org"):
        tally = appraisal.tally or {}
        entries.append(
            {
                "year": appraisal.year,
                "appraisal": appraisal,
                "subject": None,
                "counts": [0, 0, 0, 0],
                "party_participants": tally.get("party_participants", 0),
                "mass_participants": tally.get("mass_participants", 0),
                "grade": "暂缓评议",
                "satisfaction": None,
                "ballots": 0,
                "few_ballots": False,
                "excluded": appraisal.excluded[key]["reason"],
            }
        )
    entries.sort(key=lambda entry: -entry["year"])
    return entries


def commendation_candidates(*, root: Organization, year: int) -> dict:
    """评先评优 suggestions across `root`'s subtree from the year's published results: members
    decided 优秀, and organisations whose satisfaction reaches the rule's threshold (with at least
    SMALL_GROUP ballots) — none from a session published below the turnout share. Two queries
    for the lists (members are paged by the caller)."""
    in_subtree = {
        "appraisal__state": AppraisalState.PUBLISHED,
        "appraisal__low_turnout": False,
        "appraisal__year": year,
        "appraisal__org__tree_id": root.tree_id,
        "appraisal__org__lft__gte": root.lft,
        "appraisal__org__lft__lte": root.rght,
    }
    members = (
        AppraisalSubject.objects.filter(
            final_grade=ResultGrade.EXCELLENT, member__isnull=False, **in_subtree
        )
        .select_related("appraisal", "appraisal__org")
        .order_by("appraisal__org__tree_id", "appraisal__org__lft", "position")
    )
    thresholds = rules.thresholds_for(org=root, year=year)
    orgs = []
    rows = (
        AppraisalSubject.objects.filter(subject_org__isnull=False, **in_subtree)
        .select_related("appraisal", "appraisal__org")
        .order_by("appraisal__org__tree_id", "appraisal__org__lft", "position")
    )
    for subject in rows:
        counts = subject.counts or [0] * 5
        graded = sum(counts[:4])
        if graded >= SMALL_GROUP and rules.commended_org(counts, thresholds):
            orgs.append(
                {"subject": subject, "satisfaction": percent(counts[0] + counts[1], graded)}
            )
    return {"members": members, "orgs": orgs, "thresholds": thresholds}
