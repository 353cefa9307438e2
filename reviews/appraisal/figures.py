"""The kept 民主评议 figures (orgs/figures.py): each organisation's own counts per year.

- `sessions_owed`: the sessions the organisation owes for the year — the reminders' rule
  (reviews.obligations.appraisal_gaps: of its members while it has any on its roll at the year's
  end, of the basic-level organisations directly under it) — and any it has published, so that
  owed less published is exactly what the reminders chase; `sessions_held`: those whose vote
  has opened (组织评议: at the meeting, never before its date) or is over; `sessions_published`.
- `voters_member` / `voters_masses`: who handed in a sheet (paper sheets included) at its
  published sessions, as the tally frozen at closing counts them (党员 and 下级党组织负责人; the
  others).
- `orgs_band_1..4` and `votes_1..4`: an appraised organisation's satisfaction ((满意 + 比较满意)
  over the graded ballots: 90% and above, 80–90%, 60–80%, below 60%; no circular sets official
  bands) and its four grade totals, counted at the appraised organisation's own row.
- `members_excellent` … `members_fail`: the committee's grades, and `members_deferred` the
  members left out (暂缓评议), counted at the organisation that ran the session (the member's
  branch on the day of the meeting); `members_commended` those 优秀 of sessions not published
  below the turnout share, the members `selectors.commendation_candidates` suggests for 评先评优
  (by the same rule: a test holds the two equal).

Only published results are counted, and a session of fewer than SMALL_GROUP ballots gives no
grade counts and no satisfaction (as `selectors.published_entries`); nothing is ever counted by
participant group, so no figure can show a small group's ballots.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    Sum,
    Value,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce
from django.urls import reverse

from orgs import figures
from orgs.figures import FigureSource, Named, columns, register_figures
from orgs.models import MEMBER_HOLDING_KINDS, Membership, Organization
from orgs.numbers import share
from orgs.periods import YEAR, Period
from reviews.appraisal.models import (
    SMALL_GROUP,
    Appraisal,
    AppraisalFigure,
    AppraisalKind,
    AppraisalState,
    AppraisalSubject,
    ResultGrade,
)

KEY = "appraisal"
HELD = (AppraisalState.VOTING, AppraisalState.CLOSED, AppraisalState.PUBLISHED)
# satisfaction bands: the lowest share (per cent) of each, best first
BANDS = (90, 80, 60, 0)
GRADES = {
    "members_excellent": ResultGrade.EXCELLENT,
    "members_pass": ResultGrade.PASS,
    "members_basic": ResultGrade.BASIC,
    "members_fail": ResultGrade.FAIL,
}
_MARK = 987654321  # an id no session has, replaced in the one reversed address


def _number(key: str, field: str) -> Coalesce:
    """An integer the tally (or a subject's counts) holds under `key`, 0 when absent."""
    return Coalesce(Cast(KeyTextTransform(key, field), IntegerField()), Value(0))


def _owed(period: Period, org_ids) -> dict[int, set[str]]:
    """The kinds each active organisation owes by the reminders' rule (one query)."""
    on_roll = Membership.objects.on(period.end).filter(org=OuterRef("pk"))
    below = Organization.objects.filter(
        parent=OuterRef("pk"), is_active=True, kind__in=MEMBER_HOLDING_KINDS
    )
    flag = BooleanField()
    rows = (
        Organization.objects.filter(pk__in=list(org_ids), is_active=True)
        .annotate(
            owes_members=ExpressionWrapper(
                Q(kind__in=MEMBER_HOLDING_KINDS) & Exists(on_roll), output_field=flag
            ),
            owes_orgs=ExpressionWrapper(Exists(below), output_field=flag),
        )
        .filter(Q(owes_members=True) | Q(owes_orgs=True))
        .values_list("pk", "owes_members", "owes_orgs")
    )
    owed: dict[int, set[str]] = {}
    for pk, members, orgs in rows:
        owed[pk] = {
            k for k, on in ((AppraisalKind.MEMBER, members), (AppraisalKind.ORG, orgs)) if on
        }
    return owed


def _published(period: Period):
    return Appraisal.objects.published().filter(year=period.year)


def _counted_subjects(period: Period):
    """Appraised organisations' rows of the year's published sessions with enough ballots to
    show their counts, with each grade's count and the satisfaction's numerator in per cent."""
    return (
        AppraisalSubject.objects.filter(
            appraisal__state=AppraisalState.PUBLISHED,
            appraisal__year=period.year,
            appraisal__kind=AppraisalKind.ORG,
            subject_org__isnull=False,
        )
        .annotate(ballots=_number("ballots", "appraisal__tally"))
        .filter(ballots__gte=SMALL_GROUP)
        .annotate(
            c1=_number("0", "counts"),
            c2=_number("1", "counts"),
            c3=_number("2", "counts"),
            c4=_number("3", "counts"),
        )
        .annotate(n_graded=F("c1") + F("c2") + F("c3") + F("c4"), n_good=(F("c1") + F("c2")) * 100)
    )


def _band(n: int) -> Q:
    """The subjects in satisfaction band n (1–4): at least BANDS[n-1] per cent, below the band
    above."""
    low = Q(n_graded__gt=0, n_good__gte=F("n_graded") * BANDS[n - 1])
    if n == 1:
        return low
    return low & Q(n_good__lt=F("n_graded") * BANDS[n - 2])


def compute(period: Period, org_ids: list[int]) -> dict[int, dict[str, int]]:
    """{org_id: {column: n}} for `org_ids`' own records of the year: five grouped queries."""
    if not org_ids:
        return {}
    ids = list(org_ids)
    found: dict[int, dict[str, int]] = {}

    def put(org_id: int, **values: int) -> None:
        found.setdefault(org_id, {}).update(values)

    owed = _owed(period, ids)
    published_kinds: dict[int, set[str]] = {}
    sessions = (
        Appraisal.objects.filter(org_id__in=ids, year=period.year)
        .order_by()
        .values("org_id")
        .annotate(
            held=Count("pk", filter=Q(state__in=HELD)),
            published=Count("pk", filter=Q(state=AppraisalState.PUBLISHED)),
            published_members=Count(
                "pk", filter=Q(state=AppraisalState.PUBLISHED, kind=AppraisalKind.MEMBER)
            ),
            published_orgs=Count(
                "pk", filter=Q(state=AppraisalState.PUBLISHED, kind=AppraisalKind.ORG)
            ),
            voters_member=Sum(
                _number("party_participants", "tally"),
                filter=Q(state=AppraisalState.PUBLISHED),
            ),
            voters_masses=Sum(
                _number("mass_participants", "tally"),
                filter=Q(state=AppraisalState.PUBLISHED),
            ),
        )
    )
    for row in sessions:
        kinds = published_kinds.setdefault(row["org_id"], set())
        if row["published_members"]:
            kinds.add(AppraisalKind.MEMBER)
        if row["published_orgs"]:
            kinds.add(AppraisalKind.ORG)
        put(
            row["org_id"],
            sessions_held=row["held"],
            sessions_published=row["published"],
            voters_member=row["voters_member"] or 0,
            voters_masses=row["voters_masses"] or 0,
        )
    for org_id in set(owed) | set(published_kinds):
        put(org_id, sessions_owed=len(owed.get(org_id, set()) | published_kinds.get(org_id, set())))

    bands = (
        _counted_subjects(period)
        .filter(subject_org_id__in=ids)
        .order_by()
        .values("subject_org_id")
        .annotate(
            **{f"orgs_band_{n}": Count("pk", filter=_band(n)) for n in (1, 2, 3, 4)},
            **{f"votes_{n}": Sum(f"c{n}") for n in (1, 2, 3, 4)},
        )
    )
    for row in bands:
        put(row.pop("subject_org_id"), **{k: int(v or 0) for k, v in row.items()})

    grades = (
        AppraisalSubject.objects.filter(
            appraisal__state=AppraisalState.PUBLISHED,
            appraisal__year=period.year,
            appraisal__kind=AppraisalKind.MEMBER,
            appraisal__org_id__in=ids,
            member__isnull=False,
        )
        .order_by()
        .values("appraisal__org_id")
        .annotate(
            **{name: Count("pk", filter=Q(final_grade=g)) for name, g in GRADES.items()},
            members_commended=Count(
                "pk",
                filter=Q(final_grade=ResultGrade.EXCELLENT, appraisal__low_turnout=False),
            ),
        )
    )
    for row in grades:
        put(row.pop("appraisal__org_id"), **row)

    deferred = _published(period).filter(kind=AppraisalKind.MEMBER, org_id__in=ids)
    for org_id, excluded in deferred.values_list("org_id", "excluded"):
        left_out = sum(1 for key in excluded or {} if key.startswith("m"))
        if left_out:  # one member appraisal a year (appraisal_once_a_year)
            put(org_id, members_deferred=left_out)
    return found


# ---------------------------------------------------------------- names


Items = list[tuple[object, Named]]  # (key, item): an owed item and a done item share their key


def _session_url(name: str) -> Callable[[int], str]:
    head, _, tail = reverse(name, args=[_MARK]).partition(str(_MARK))
    return lambda pk: f"{head}{pk}{tail}"


def _session_items(period: Period, org: Organization, column: str) -> Items:
    sessions = {
        a.kind: a for a in Appraisal.objects.filter(org=org, year=period.year).order_by("kind")
    }
    detail, results = _session_url("appraisal:detail"), _session_url("appraisal:results")

    def item(kind: str, note: str = "") -> tuple[str, Named]:
        label = f"{org.name}{period.year}年{AppraisalKind(kind).label}"
        session = sessions.get(kind)
        if session is None:
            url = f"{reverse('appraisal:list', args=[org.pk])}?year={period.year}"
            return kind, Named(label, url, note or "尚未制定方案")
        url = results(session.pk) if session.is_published else detail(session.pk)
        return kind, Named(label, url, note or session.get_state_display())

    if column == "sessions_owed":
        kinds = _owed(period, [org.pk]).get(org.pk, set())
        kinds |= {k for k, s in sessions.items() if s.is_published}
        return [item(k) for k in AppraisalKind.values if k in kinds]
    if column == "sessions_held":
        return [item(k) for k, s in sessions.items() if s.state in HELD]
    if column == "sessions_published":
        return [item(k) for k, s in sessions.items() if s.is_published]
    # voters: the published sessions, each with its number (never a voter's name)
    key = "party_participants" if column == "voters_member" else "mass_participants"
    return [
        item(k, f"{(s.tally or {}).get(key, 0)} 人")
        for k, s in sessions.items()
        if s.is_published and (s.tally or {}).get(key, 0)
    ]


def _band_items(period: Period, org: Organization, column: str) -> Items:
    """The appraised organisation itself, once per session that put it in the band or gave it
    the votes (a vote column's item carries the number)."""
    rows = (
        _counted_subjects(period)
        .filter(subject_org=org)
        .select_related("appraisal", "appraisal__org")
        .order_by("appraisal__published_at", "pk")
    )
    kind, n = column.rsplit("_", 1)
    results = _session_url("appraisal:results")
    items: Items = []
    for subject in rows.filter(_band(int(n))) if kind == "orgs_band" else rows:
        counts = [subject.c1, subject.c2, subject.c3, subject.c4]
        if kind == "orgs_band":
            rate = share(subject.c1 + subject.c2, subject.n_graded)
            note = f"{subject.appraisal.org.name}评议：满意率 {rate:.1%}"
        else:
            votes = counts[int(n) - 1]
            if not votes:
                continue
            note = f"{subject.appraisal.org.name}评议：{votes} 票"
        items.append((subject.pk, Named(org.name, results(subject.appraisal_id), note)))
    return items


def _member_items(period: Period, org: Organization, column: str) -> Items:
    sessions = _published(period).filter(kind=AppraisalKind.MEMBER, org=org)
    results = _session_url("appraisal:results")
    if column == "members_deferred":
        items: Items = []
        for session in sessions.order_by("pk"):
            for key, left_out in (session.excluded or {}).items():
                if key.startswith("m"):
                    items.append(
                        (key, Named(left_out["name"], results(session.pk), left_out["reason"]))
                    )
        return items
    if column == "members_commended":
        sessions, grade = sessions.filter(low_turnout=False), ResultGrade.EXCELLENT
    else:
        grade = GRADES[column]
    subjects = AppraisalSubject.objects.filter(
        appraisal__in=sessions.values("pk"), member__isnull=False, final_grade=grade
    ).order_by("appraisal_id", "position")
    return [(s.member_id, Named(s.name, results(s.appraisal_id), grade.label)) for s in subjects]


def _items(period: Period, org: Organization, column: str) -> Items:
    if column not in columns(AppraisalFigure):
        raise LookupError(f"民主评议统计没有“{column}”这一项")
    if column.startswith(("sessions_", "voters_")):
        return _session_items(period, org, column)
    if column.startswith(("orgs_band_", "votes_")):
        return _band_items(period, org, column)
    return _member_items(period, org, column)


def names(period: Period, org: Organization, column: str) -> list[Named]:
    """What `org`'s own figure `column` counts, or for "owed-done" (e.g.
    "sessions_owed-sessions_published") those owed and not done. As many items as the number,
    but for the participants and the votes, which name nobody: there each session (or
    appraised organisation) is one item with its number in `detail`, and the numbers add up to
    the figure."""
    owed, _, done = column.partition("-")
    items = _items(period, org, owed)
    if not done:
        return [item for _, item in items]
    done_keys = {key for key, _ in _items(period, org, done)}
    return [item for key, item in items if key not in done_keys]


def touch_session(appraisal: Appraisal, *, subjects: bool = False) -> None:
    """After a change to a session: its organisation's 民主评议 figures of the year are
    refreshed on commit, and with `subjects` (publication) the appraised organisations' too;
    no other figures count a session."""
    ids = [appraisal.org_id]
    if subjects and appraisal.appraises_orgs:
        ids += AppraisalSubject.objects.filter(
            appraisal=appraisal, subject_org__isnull=False
        ).values_list("subject_org_id", flat=True)
    figures.touch_period(ids, Period.whole_year(appraisal.year), keys=[KEY])


def register() -> None:
    register_figures(
        FigureSource(
            key=KEY,
            model=AppraisalFigure,
            period_kind=YEAR,
            compute=compute,
            names=names,
            label="民主评议",
        )
    )
