"""Reads for the appraisal pages, the 写实簿 and the statistics: querysets, numbers and typed
rows (the pages format them). `published_entries` is what the ledgers and statistics read."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from orgs.models import MEMBER_HOLDING_KINDS, Member, Organization
from orgs.numbers import share
from pledges.models import Pledge
from reviews.appraisal import rules
from reviews.appraisal.access import can_run_appraisal
from reviews.appraisal.models import (
    EVENT_LABELS,
    SMALL_GROUP,
    Appraisal,
    AppraisalEvent,
    AppraisalKind,
    AppraisalSubject,
    Group,
    PaperCount,
    PaperEntry,
    ResultGrade,
    Slip,
)


def subject_orgs(org: Organization) -> QuerySet[Organization]:
    """The basic-level organisations directly under `org`, appraised by it."""
    return (
        org.get_children()
        .filter(is_active=True, kind__in=MEMBER_HOLDING_KINDS)
        .order_by("lft")
        .only("pk", "name")
    )


def kinds_for(org: Organization) -> list[str]:
    """The appraisals `org` may run: of its members, of the organisations below it."""
    kinds = []
    if org.holds_members:
        kinds.append(AppraisalKind.MEMBER)
    if subject_orgs(org).exists():
        kinds.append(AppraisalKind.ORG)
    return kinds


def org_appraisals(*, org: Organization) -> QuerySet[Appraisal]:
    """The sessions `org` runs, newest first."""
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
    """The session's subjects in the order of the 评议表."""
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
        pledges = pledges.published()
    return pledges.order_by("due_date", "pk")


@dataclass
class ResultRow:
    """A subject's line on the results page. `grade_value` and `reason_value` are what the
    committee's form shows (the page fills them)."""

    subject: AppraisalSubject
    counts: list[int]  # [grade 1, 2, 3, 4, blank]
    graded: int  # ballots that graded the subject (blanks left out)
    shares: list[float | None]  # each grade over `graded`
    groups: list[tuple[str, list[int] | None]]  # (group label, its counts) for the groups shown
    satisfaction: float | None = None  # organisations: (满意 + 比较满意) over `graded`
    commended: bool = False
    grade_value: str = ""
    reason_value: str = ""


def results(*, appraisal: Appraisal, user) -> dict:
    """Everything the results page shows, from the tally frozen at closing: a fixed number of
    queries (the subjects and the rule) whatever the number of ballots."""
    tally = appraisal.tally or {}
    runner = can_run_appraisal(user, appraisal)
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
    if appraisal.is_published:
        low_turnout = appraisal.low_turnout  # as frozen when it was published
    else:
        low_turnout = rules.turnout_low(appraisal, thresholds)
    by_position = {row["position"]: row for row in tally.get("subjects", [])}
    rows = []
    for subject in subjects(appraisal=appraisal).select_related("decided_by"):
        counts = subject.counts or [0] * 5
        graded = sum(counts[:4])
        row = ResultRow(
            subject=subject,
            counts=counts,
            graded=graded,
            shares=[share(c, graded) for c in counts[:4]],
            groups=[
                (g.label, by_position.get(subject.position, {}).get("groups", {}).get(str(g)))
                for g in shown_groups
            ],
        )
        if appraisal.appraises_orgs:
            row.satisfaction = share(counts[0] + counts[1], graded)
            commended = (
                show_counts and graded >= SMALL_GROUP and rules.commended_org(counts, thresholds)
            )
        else:
            commended = subject.is_excellent
        row.commended = commended and not low_turnout
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
        "commended": [r for r in rows if r.commended],
        "participants": [(Group(g).label, n) for g, n in participants.items() if g in Group.values],
        "small": SMALL_GROUP,
        "turnout": appraisal.turnout_percent,
        "low_turnout": low_turnout,
    }


def slip_counts(*, appraisal: Appraisal) -> tuple[int, int]:
    """(slips issued and not voided, slips used), in one query."""
    found = Slip.objects.filter(appraisal=appraisal).aggregate(
        issued=Count("pk", filter=Q(voided=False)), used=Count("pk", filter=Q(used=True))
    )
    return found["issued"], found["used"]


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


@dataclass(frozen=True)
class AppraisalEntry:
    """The published appraisal entry of a member or an organisation for one year: what its
    record, the 写实簿 and the statistics read. A session that left the subject out (暂缓评议)
    gives an entry without a subject, with the reason. A session of fewer than SMALL_GROUP
    ballots gives no counts and no satisfaction (`few_ballots`); no entry ever gives a
    participant group's counts."""

    appraisal: Appraisal
    year: int
    kind: str  # AppraisalKind
    org: Organization  # the organisation that ran the session
    member: Member | None
    subject_org: Organization | None
    subject: AppraisalSubject | None  # None when the plan left the subject out
    grade: str  # the committee's ResultGrade for a member; "" otherwise
    counts: list[int] | None  # [好/满意, 较好/比较满意, 一般, 差/不满意]; None with few ballots
    satisfaction: float | None  # (满意 + 比较满意) over the graded ballots; None with few ballots
    party_participants: int
    mass_participants: int
    ballots: int
    few_ballots: bool
    excluded: str  # why the plan left the subject out; "" when it was appraised
    published_on: datetime.date | None

    @property
    def is_excluded(self) -> bool:
        return self.subject is None

    @property
    def grade_label(self) -> str:
        """The result as the forms write it: 优秀 … 不合格, or 暂缓评议."""
        if self.is_excluded:
            return "暂缓评议"
        return ResultGrade(self.grade).label if self.grade else ""


def _published_on(appraisal: Appraisal) -> datetime.date | None:
    if appraisal.published_at is None:
        return None
    return timezone.localdate(appraisal.published_at)


def published_entries(
    *, member: Member | None = None, org: Organization | None = None, year: int | None = None
) -> list[AppraisalEntry]:
    """The published appraisal entries of a member or of an organisation (of `year`, or of every
    year, newest first). Two queries."""
    if (member is None) == (org is None):
        raise ValueError("published_entries needs a member or an organisation")
    found = _published_entries(
        members={member.pk: member} if member is not None else None,
        orgs={org.pk: org} if org is not None else None,
        year=year,
    )
    return [entry for entries in found.values() for entry in entries]


def published_entries_by_subject(
    *,
    year: int,
    members: Iterable[Member] | None = None,
    orgs: Iterable[Organization] | None = None,
) -> dict[int, AppraisalEntry]:
    """The year's published entry of many members (or organisations), by the subject's pk (the
    latest session's when there were several). Two queries however many subjects."""
    if (members is None) == (orgs is None):
        raise ValueError("published_entries_by_subject needs members or organisations")
    found = _published_entries(
        members={m.pk: m for m in members} if members is not None else None,
        orgs={o.pk: o for o in orgs} if orgs is not None else None,
        year=year,
    )
    return {pk: entries[0] for pk, entries in found.items() if entries}


def _published_entries(
    *,
    members: dict[int, Member] | None,
    orgs: dict[int, Organization] | None,
    year: int | None,
) -> dict[int, list[AppraisalEntry]]:
    subjects = members if members is not None else orgs
    if not subjects:
        return {}  # an empty key list is not even valid SQL on SQLite
    found = AppraisalSubject.objects.filter(
        appraisal__in=Appraisal.objects.published().values("pk")
    )
    if members is not None:
        found = found.filter(member_id__in=list(members))
    else:
        found = found.filter(subject_org_id__in=list(orgs))
    sessions = Appraisal.objects.published()
    if year is not None:
        found = found.filter(appraisal__year=year)
        sessions = sessions.filter(year=year)
    entries: dict[int, list[AppraisalEntry]] = {}

    def add(pk: int, appraisal: Appraisal, **result) -> None:
        tally = appraisal.tally or {}
        entries.setdefault(pk, []).append(
            AppraisalEntry(
                appraisal=appraisal,
                year=appraisal.year,
                kind=appraisal.kind,
                org=appraisal.org,
                member=members[pk] if members is not None else None,
                subject_org=orgs[pk] if orgs is not None else None,
                party_participants=tally.get("party_participants", 0),
                mass_participants=tally.get("mass_participants", 0),
                published_on=_published_on(appraisal),
                **result,
            )
        )

    rows = found.select_related("appraisal", "appraisal__org").order_by(
        "-appraisal__year", "-appraisal__published_at", "-pk"
    )
    for subject in rows:
        ballots = (subject.appraisal.tally or {}).get("ballots", 0)
        # a session of fewer than SMALL_GROUP ballots: its counts are for the running secretary's
        # results page only, never in a record read by others (nor any group's counts, ever)
        few = ballots < SMALL_GROUP
        add(
            subject.member_id if members is not None else subject.subject_org_id,
            subject.appraisal,
            subject=subject,
            grade=subject.final_grade,
            counts=None if few else (subject.counts or [0] * 5)[:4],
            satisfaction=None if few else subject.satisfaction,
            ballots=ballots,
            few_ballots=few,
            excluded="",
        )
    # sessions that left a subject out (暂缓评议): their `excluded` keys are m<pk> / o<pk>
    prefix = "m" if members is not None else "o"
    keys = [f"{prefix}{pk}" for pk in subjects]
    for appraisal in sessions.filter(excluded__has_any_keys=keys).select_related("org"):
        for key, left_out in appraisal.excluded.items():
            if not key.startswith(prefix) or not key[1:].isdigit() or int(key[1:]) not in subjects:
                continue
            add(
                int(key[1:]),
                appraisal,
                subject=None,
                grade="",
                counts=[0, 0, 0, 0],
                satisfaction=None,
                ballots=0,
                few_ballots=False,
                excluded=left_out["reason"],
            )
    for found_entries in entries.values():
        found_entries.sort(key=lambda entry: -entry.year)
    return entries


@dataclass(frozen=True)
class CommendedOrg:
    subject: AppraisalSubject
    satisfaction: float | None


@dataclass(frozen=True)
class Candidates:
    """评先评优 suggestions: members (a queryset, paged by the caller) and organisations."""

    members: QuerySet[AppraisalSubject]
    orgs: list[CommendedOrg]
    thresholds: rules.Thresholds


def commendation_candidates(*, root: Organization, year: int) -> Candidates:
    """评先评优 suggestions across `root`'s subtree from the year's published results: members
    decided 优秀, and organisations whose satisfaction reaches the rule's threshold (with at least
    SMALL_GROUP ballots) — none from a session published below the turnout share, nor of an
    organisation no longer active. Two queries for the lists (members are paged by the caller).
    The members are those the kept 民主评议 figures count as `members_commended`
    (reviews/appraisal/figures.py), by the same rule."""
    sessions = Appraisal.objects.published().filter(
        low_turnout=False,
        year=year,
        org__is_active=True,
        org__tree_id=root.tree_id,
        org__lft__gte=root.lft,
        org__lft__lte=root.rght,
    )
    in_subtree = {"appraisal__in": sessions.values("pk")}
    members = (
        AppraisalSubject.objects.filter(
            final_grade=ResultGrade.EXCELLENT,
            member__isnull=False,
            appraisal__kind=AppraisalKind.MEMBER,
            **in_subtree,
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
                CommendedOrg(subject=subject, satisfaction=share(counts[0] + counts[1], graded))
            )
    return Candidates(members=members, orgs=orgs, thresholds=thresholds)


@dataclass(frozen=True)
class EventRow:
    at: datetime.datetime
    who: str  # the actor's name, or 系统 for a task
    label: str  # the action in words
    comment: str


def session_events(*, appraisal: Appraisal, actions: list[str] | None = None) -> list[EventRow]:
    """The session's history (of `actions` only, when given), oldest first. One query."""
    found = AppraisalEvent.objects.filter(appraisal=appraisal).select_related("actor")
    if actions is not None:
        found = found.filter(action__in=actions)
    return [
        EventRow(
            at=e.at,
            who=(e.actor.get_full_name() or e.actor.username) if e.actor else "系统",
            label=EVENT_LABELS.get(e.action, e.action),
            comment=e.comment,
        )
        for e in found
    ]


def paper_entry(*, appraisal: Appraisal, group: str, teller) -> PaperEntry | None:
    """`teller`'s own entry of `group`'s paper sheets, if any."""
    if not getattr(teller, "is_authenticated", False):
        return None
    return PaperEntry.objects.filter(appraisal=appraisal, group=group, teller=teller).first()


@dataclass(frozen=True)
class PaperGroupRow:
    group: Group
    tellers: list[str]  # who has entered the group's sheets
    count: PaperCount | None  # once two entries agree


@dataclass(frozen=True)
class PaperDesk:
    """The tellers' page: each group's entries and confirmed count, and for one group the other
    teller's unconfirmed entry (to say where it differs)."""

    rows: list[PaperGroupRow]
    confirmed: PaperCount | None  # the group's confirmed count
    other: PaperEntry | None  # another teller's entry of the group, while unconfirmed


def paper_desk(*, appraisal: Appraisal, group: str, teller) -> PaperDesk:
    """What the tellers' page shows for `group`, seen by `teller`. Two queries."""
    entries = list(
        PaperEntry.objects.filter(appraisal=appraisal).select_related("teller").order_by("pk")
    )
    counts = {c.group: c for c in PaperCount.objects.filter(appraisal=appraisal)}
    rows = [
        PaperGroupRow(
            group=g,
            tellers=[
                e.teller.get_full_name() or e.teller.username for e in entries if e.group == g
            ],
            count=counts.get(str(g)),
        )
        for g in appraisal.groups
    ]
    confirmed = counts.get(str(group))
    other = None
    if confirmed is None:
        other = next((e for e in entries if e.group == group and e.teller_id != teller.pk), None)
    return PaperDesk(rows=rows, confirmed=confirmed, other=other)
