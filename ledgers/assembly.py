"""A ledger assembled from the records, never retyped: the year's approved pledges, each period's
fulfilment reports, the signed leader review of each period, the published appraisal, and the
text people add (ledgers.models.LedgerNote). Read through the other apps' published selectors.

`member_ledgers` and `org_ledgers` assemble many ledgers in a fixed number of queries whatever
their number: a branch's grid, a committee's children, a batch print and one ledger page all go
through them. A section that is signed shows the snapshot its signature froze; the live assembly
is what the next signature would freeze (the locks keep the two equal)."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field

from django.utils import timezone

from ledgers import chain
from ledgers import sections as S
from ledgers.models import Ledger, LedgerKind, LedgerNote, NoteKind, Signature
from orgs.deadlines import calendars
from orgs.models import Member, Organization
from orgs.periods import QUARTER, YEAR, Period
from orgs.selectors import memberships_of, org_figures, org_on
from pledges.selectors import pledge_records_by_owner
from reviews.appraisal.selectors import published_entries_by_subject
from reviews.selectors import exemptions_by_subject, signed_reviews_by_subject

# section states, in the order a section passes through them
NONE = "none"  # the member was not in any branch at the period's end
NOT_DUE = "not_due"  # its period has not ended
MISSING = "missing"  # 缺记录: a source is missing and no reason is recorded
READY = "ready"  # 待签
PARTLY = "partly"  # the lower signature is there, the upper not yet
SIGNED = "signed"  # 已签

STATE_LABELS = {
    NONE: "不在册",
    NOT_DUE: "未到期",
    MISSING: "缺记录",
    READY: "待签",
    PARTLY: "待签",
    SIGNED: "已签",
}


def month_text(day: datetime.date | None) -> str:
    return f"{day.year}年{day.month}月" if day else ""


@dataclass
class SectionView:
    spec: S.SectionSpec
    period: Period
    owner: Organization | None  # whose secretary signs the keeper's slot of this section
    due_after: datetime.date  # the section may be signed from the next day on
    live: dict  # the content as the records stand now
    missing: list[str]  # what is missing, and who owes it
    sources: list[tuple[str, int]]  # the records `live` was built from: (lock source, pk)
    signatures: dict[str, Signature] = field(default_factory=dict)  # live ones, by slot
    notes: dict[str, LedgerNote] = field(default_factory=dict)  # by NoteKind
    today: datetime.date | None = None

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def is_frozen(self) -> bool:
        return bool(self.signatures)

    @property
    def content(self) -> dict:
        """What the section shows: the last live signature's snapshot once signed."""
        if self.signatures:
            last = max(self.signatures.values(), key=lambda s: s.seq)
            return json.loads(last.payload)["content"]
        return self.live

    @property
    def shown_hash(self) -> str:
        """The SHA-256 of `content` as a page shows it: a signature made with it (SignItem.shown)
        is refused if the section changed in between."""
        return chain.sha256(chain.canonical(self.content))

    @property
    def missing_reason(self) -> str:
        note = self.notes.get(NoteKind.MISSING)
        return note.text if note else ""

    @property
    def is_due(self) -> bool:
        return self.today is not None and self.today > self.due_after

    @property
    def state(self) -> str:
        if self.owner is None:
            return NONE
        if self.signatures:
            if all(slot in self.signatures for slot in self.spec.slots):
                return SIGNED
            return PARTLY
        if not self.is_due:
            return NOT_DUE
        if self.missing and not self.missing_reason:
            return MISSING
        return READY

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def next_slot(self) -> str | None:
        """The slot to sign next, lower first; None when all are signed."""
        for slot in self.spec.slots:
            if slot not in self.signatures:
                return slot
        return None

    @property
    def signed_on(self) -> datetime.date | None:
        if not self.signatures:
            return None
        return max(s.signed_on for s in self.signatures.values())

    def slots(self) -> list[tuple[str, str, Signature | None]]:
        """(slot, label, live signature or None) in the form's order."""
        return [(slot, S.SLOT_LABELS[slot], self.signatures.get(slot)) for slot in self.spec.slots]


@dataclass
class LedgerView:
    kind: str
    year: int
    member: Member | None
    org: Organization | None  # the organisation the ledger is about
    keeper: Organization | None
    ledger: Ledger | None  # None: not yet opened (建立)
    header: dict
    sections: list[SectionView]
    today: datetime.date

    @property
    def is_member(self) -> bool:
        return self.kind == LedgerKind.MEMBER

    @property
    def subject(self):
        return self.member if self.is_member else self.org

    @property
    def subject_name(self) -> str:
        return self.subject.name

    @property
    def title(self) -> str:
        return f"{self.subject_name} {self.year}年度{LedgerKind(self.kind).label}"

    @property
    def short_hash(self) -> str:
        return self.ledger.short_hash if self.ledger else ""

    def section(self, key: str) -> SectionView:
        for view in self.sections:
            if view.key == key:
                return view
        raise KeyError(key)

    @property
    def signed_count(self) -> int:
        return sum(1 for s in self.sections if s.state == SIGNED)

    @property
    def is_complete(self) -> bool:
        return all(s.state in (SIGNED, NONE) for s in self.sections)

    def next_action(self) -> SectionView | None:
        """The first section that waits for someone: missing records or a signature."""
        for view in self.sections:
            if view.state in (MISSING, READY, PARTLY):
                return view
        return None


# ---------------------------------------------------------------- content of each section


def _pledge_item(pledge) -> dict:
    return {
        "id": pledge.pk,
        "kind": pledge.get_kind_display(),
        "category": pledge.get_category_display(),
        "content": pledge.content,
        "target": pledge.target,
        "due": pledge.due_date.isoformat(),
        "oral": pledge.is_oral,
    }


def _short(text: str, n: int = 24) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _pledges_section(records, *, owes: str):
    pledges = [_pledge_item(r.pledge) for r in records]
    sources = [("pledge", r.pledge.pk) for r in records]
    missing = [] if pledges else [f"尚无经审定的公开承诺（{owes}）"]
    return {"pledges": pledges}, missing, sources


def _fulfilment_section(records, period: Period, *, owes: str):
    reports, missing, sources = [], [], []
    for record in records:
        pledge = record.pledge
        if pledge.due_date < period.start:
            continue  # due before the period began: nothing to report in it
        if pledge.kind == "immediate" and timezone.localdate(pledge.created_at) > period.end:
            continue  # an immediate pledge joins from the period it was made in; annual and
            # term pledges are made in the window and cover the whole year
        fulfilment = next(
            (p.fulfilment for p in record.periods if p.period.number == period.number), None
        )
        sources.append(("pledge", pledge.pk))
        if fulfilment is None:
            missing.append(
                f"承诺“{_short(pledge.content)}”未报告{period.short_label}兑现情况（{owes}）"
            )
            continue
        sources.append(("fulfilment", fulfilment.pk))
        reports.append(
            {
                "id": fulfilment.pk,
                "pledge_id": pledge.pk,
                "pledge": pledge.content,
                "text": fulfilment.text,
                "status": fulfilment.get_status_display(),
                "reason": fulfilment.reason,
            }
        )
    if not records:
        missing.append(f"尚无经审定的公开承诺，{period.short_label}无兑现情况可写实")
    return {"reports": reports}, missing, sources


def _review_section(review, exemption, period: Period, *, owes: str):
    if review is not None:
        content = {
            "review": {
                "id": review.pk,
                "reviewer": review.reviewer_name,
                "post": review.reviewer_post,
                "date": review.reviewed_on.isoformat(),
                "method": review.get_method_display(),
                "achievements": review.achievements,
                "shortcomings": review.shortcomings,
                "direction": review.direction,
            }
        }
        return content, [], [("review", review.pk)]
    if exemption is not None:
        content = {"exemption": {"id": exemption.pk, "reason": exemption.reason}}
        return content, [], [("exemption", exemption.pk)]
    return {"review": None}, [f"{period.short_label}领导点评尚未签字（{owes}）"], []


def _year_section(
    entry, summary: LedgerNote | None, *, year: int, owes_summary: str, owes_appraisal: str
):
    missing, sources = [], []
    if summary is None:
        missing.append(f"简要总结尚未填写（{owes_summary}）")
    appraisal = None
    if entry is None:
        missing.append(f"{year}年民主评议结果尚未公开（{owes_appraisal}）")
    else:
        appraisal = {
            "session": entry.org.name,
            "published_on": entry.published_on.isoformat() if entry.published_on else "",
            "counts": entry.counts,
            "few_ballots": entry.few_ballots,
            "party": entry.party_participants,
            "masses": entry.mass_participants,
            "grade": entry.grade_label,
            "excluded": entry.excluded,
        }
        sources.append(("appraisal", entry.appraisal.pk))
        if entry.subject is not None:
            sources.append(("subject", entry.subject.pk))
    return {"summary": summary.text if summary else "", "appraisal": appraisal}, missing, sources


def _with_notes(view: SectionView) -> SectionView:
    supplement = view.notes.get(NoteKind.SUPPLEMENT)
    view.live["supplement"] = supplement.text if supplement else ""
    view.live["missing_reason"] = view.missing_reason
    for kind in (NoteKind.SUPPLEMENT, NoteKind.MISSING, NoteKind.SUMMARY):
        note = view.notes.get(kind)
        if note is not None:
            view.sources.append(("note", note.pk))
    return view


# ---------------------------------------------------------------- the stored parts, in bulk


def _stored(kind: str, year: int, field_name: str, ids: list[int]):
    """The ledgers, their live signatures and their notes: three queries."""
    ledgers = {
        getattr(ledger, f"{field_name}_id"): ledger
        for ledger in Ledger.objects.filter(
            kind=kind, year=year, **{f"{field_name}_id__in": ids}
        ).select_related("keeper")
    }
    ledger_ids = [ledger.pk for ledger in ledgers.values()]
    signatures: dict[int, dict[tuple[str, str], Signature]] = {}
    for signature in Signature.objects.filter(
        ledger_id__in=ledger_ids, withdrawn_at__isnull=True
    ).order_by("seq"):
        signatures.setdefault(signature.ledger_id, {})[(signature.section, signature.slot)] = (
            signature
        )
    notes: dict[int, dict[tuple[str, str], LedgerNote]] = {}
    for note in LedgerNote.objects.filter(ledger_id__in=ledger_ids):
        notes.setdefault(note.ledger_id, {})[(note.section, note.kind)] = note
    return ledgers, signatures, notes


def _attach(view: SectionView, ledger: Ledger | None, signatures, notes) -> None:
    if ledger is None:
        return
    for (section, slot), signature in signatures.get(ledger.pk, {}).items():
        if section == view.key:
            view.signatures[slot] = signature
    for (section, kind), note in notes.get(ledger.pk, {}).items():
        if section == view.key:
            view.notes[kind] = note


class _Windows:
    """The pledge window's end for each organisation (the calendar's `pledge_window`), read for
    all of them at once: the 承诺写实 is signed after the window closes."""

    def __init__(self, year: int, orgs):
        self.year = year
        unique = list({org.pk: org for org in orgs if org is not None}.values())
        found = calendars(orgs=unique, years=[year], keep=lambda period: period.kind == YEAR)
        self.found = {
            pk: item.due_on
            for pk, items in found.items()
            for item in items
            if item.kind.key == "pledge_window"
        }

    def end(self, org: Organization | None) -> datetime.date:
        if org is None or org.pk not in self.found:
            return datetime.date(self.year, 3, 31)
        return self.found[org.pk]


# ---------------------------------------------------------------- member ledgers


def member_header(member: Member, keeper: Organization | None, year: int) -> dict:
    return {
        "name": member.name,
        "gender": member.get_gender_display(),
        "ethnicity": member.ethnicity,
        "birth": month_text(member.birth_date),
        "joined": month_text(member.joined_on),
        "education": member.education,
        "post": member.post,
        "org_name": keeper.name if keeper else "",
        "year": year,
    }


def member_ledgers(*, year: int, members: list[Member], today: datetime.date) -> list[LedgerView]:
    """The member ledgers of `year` for `members`, in their order. About a dozen queries,
    whatever the number of members."""
    ids = [m.pk for m in members]
    year_period = Period.whole_year(year)
    memberships = memberships_of(member_ids=ids, start=year_period.start, end=year_period.end)
    records = pledge_records_by_owner(year=year, member_ids=ids)
    quarters = Period.all_of(year, QUARTER)
    branch_at = {
        (pk, q.number): org.pk
        for pk, rows in memberships.items()
        for q in quarters
        if (org := org_on(rows, q.end)) is not None
    }
    reviews = signed_reviews_by_subject(year=year, member_ids=ids, branch_at=branch_at)
    exemptions = exemptions_by_subject(year=year, member_ids=ids)
    entries = published_entries_by_subject(year=year, members=members)
    ledgers, signatures, notes = _stored(LedgerKind.MEMBER, year, "member", ids)
    keepers = {}
    for member in members:
        ledger = ledgers.get(member.pk)
        rows = memberships.get(member.pk, [])
        at_end = org_on(rows, min(today, year_period.end)) or (rows[-1].org if rows else None)
        keepers[member.pk] = ledger.keeper if ledger else at_end
    windows = _Windows(year, keepers.values())
    views = []
    for member in members:
        ledger = ledgers.get(member.pk)
        rows = memberships.get(member.pk, [])
        keeper = keepers[member.pk]
        own = records.get(member.pk, [])
        sections = []
        for spec in S.MEMBER_SECTIONS:
            period = spec.period(year)
            if spec.builds_from in (S.PLEDGES, S.YEAR_END):
                owner = keeper
            else:
                owner = org_on(rows, period.end)
            due_after = windows.end(keeper) if spec.builds_from == S.PLEDGES else period.end
            secretary = f"{owner.name}书记" if owner else "党支部书记"
            view = SectionView(spec, period, owner, due_after, {}, [], [], today=today)
            _attach(view, ledger, signatures, notes)
            if spec.builds_from == S.PLEDGES:
                content, missing, sources = _pledges_section(
                    own, owes=f"由本人提出，{secretary}审定"
                )
            elif spec.builds_from == S.FULFILMENT:
                content, missing, sources = _fulfilment_section(
                    own, period, owes=f"由本人或{secretary}填报"
                )
            elif spec.builds_from == S.REVIEW:
                key = (member.pk, spec.number)
                content, missing, sources = _review_section(
                    reviews.get(key), exemptions.get(key), period, owes=f"由{secretary}点评"
                )
            else:
                content, missing, sources = _year_section(
                    entries.get(member.pk),
                    view.notes.get(NoteKind.SUMMARY),
                    year=year,
                    owes_summary=f"由{secretary}填写",
                    owes_appraisal=f"由{keeper.name if keeper else '党支部'}组织民主评议",
                )
            view.live, view.missing, view.sources = content, missing, sources
            if ledger is not None:
                # every snapshot carries the header: it is frozen by whichever section is
                # signed first, through the ledger's year
                view.sources.append(("member", member.pk))
            sections.append(_with_notes(view))
        views.append(
            LedgerView(
                kind=LedgerKind.MEMBER,
                year=year,
                member=member,
                org=None,
                keeper=keeper,
                ledger=ledger,
                header=member_header(member, keeper, year),
                sections=sections,
                today=today,
            )
        )
    return views


# ---------------------------------------------------------------- organisation ledgers


def org_header(org: Organization, figures: tuple[int, int], year: int) -> dict:
    members, activists = figures
    return {
        "name": org.name,
        "secretary": org.secretary.name if org.secretary_id else "",
        "members": members,
        "activists": activists,
        "org_name": org.parent.name if org.parent_id else "",
        "year": year,
    }


def org_ledgers(*, year: int, orgs: list[Organization], today: datetime.date) -> list[LedgerView]:
    """The organisation ledgers of `year` for `orgs` (each with `parent` and `secretary`
    selected), in their order. About a dozen queries, whatever their number."""
    ids = [o.pk for o in orgs]
    records = pledge_records_by_owner(year=year, org_ids=ids)
    reviews = signed_reviews_by_subject(year=year, org_ids=ids)
    exemptions = exemptions_by_subject(year=year, org_ids=ids)
    entries = published_entries_by_subject(year=year, orgs=orgs)
    figures = org_figures(org_ids=ids, year=year, day=min(today, Period.whole_year(year).end))
    ledgers, signatures, notes = _stored(LedgerKind.ORG, year, "subject_org", ids)
    windows = _Windows(year, orgs)
    views = []
    for org in orgs:
        ledger = ledgers.get(org.pk)
        keeper = ledger.keeper if ledger else org.parent
        own = records.get(org.pk, [])
        upper = f"{keeper.name}书记" if keeper else "上级党组织书记"
        sections = []
        for spec in S.ORG_SECTIONS:
            period = spec.period(year)
            due_after = windows.end(org) if spec.builds_from == S.PLEDGES else period.end
            view = SectionView(spec, period, keeper, due_after, {}, [], [], today=today)
            _attach(view, ledger, signatures, notes)
            if spec.builds_from == S.PLEDGES:
                content, missing, sources = _pledges_section(
                    own, owes=f"由{org.name}提出，{upper}审定"
                )
            elif spec.builds_from == S.FULFILMENT:
                content, missing, sources = _fulfilment_section(
                    own, period, owes=f"由{org.name}书记填报"
                )
            elif spec.builds_from == S.REVIEW:
                key = (org.pk, spec.number)
                content, missing, sources = _review_section(
                    reviews.get(key), exemptions.get(key), period, owes=f"由{upper}点评"
                )
            else:
                content, missing, sources = _year_section(
                    entries.get(org.pk),
                    view.notes.get(NoteKind.SUMMARY),
                    year=year,
                    owes_summary=f"由{upper}填写",
                    owes_appraisal="由上级党组织组织民主评议",
                )
            view.live, view.missing, view.sources = content, missing, sources
            sections.append(_with_notes(view))
        views.append(
            LedgerView(
                kind=LedgerKind.ORG,
                year=year,
                member=None,
                org=org,
                keeper=keeper,
                ledger=ledger,
                header=org_header(org, figures.get(org.pk, (0, 0)), year),
                sections=sections,
                today=today,
            )
        )
    return views
