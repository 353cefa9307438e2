"""Writes of the 写实簿: opening ledgers, the text people add, signatures and their withdrawal.

A signature freezes a section: the canonical snapshot of what was signed is stored with its
SHA-256 and chained to the ledger's previous signature (ledgers/chain.py), and every record the
section was built from is locked (ledgers.models.Lock, held by database triggers) until the
signature is withdrawn. The ledger row is locked while a signature is written, so two requests
cannot both take the next link of the chain.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from ledgers import access, chain
from ledgers import sections as S
from ledgers.assembly import (
    MISSING,
    NONE,
    NOT_DUE,
    LedgerView,
    SectionView,
    member_ledgers,
    org_ledgers,
)
from ledgers.figures import section_half, touch_ledgers
from ledgers.models import (
    Ledger,
    LedgerEvent,
    LedgerKind,
    LedgerNote,
    Lock,
    NoteKind,
    Signature,
)
from orgs.events import actor_of
from orgs.models import Member, Organization
from orgs.periods import is_campaign_year
from orgs.refusals import refuse

NOTE_LIMIT = 4000
REASON_LIMIT = 500
# control characters a text field never keeps (PostgreSQL refuses NUL in text outright)
_CONTROLS = dict.fromkeys(c for c in range(32) if chr(c) not in "\t\n\r")


def _clean(text) -> str:
    """User text as stored: without control characters, without surrounding blanks."""
    return str(text or "").translate(_CONTROLS).strip()


def _check_subject(subject) -> None:
    """A ledger is about a member, or an active basic-level organisation with a parent."""
    if isinstance(subject, Member):
        return
    if (
        not isinstance(subject, Organization)
        or subject.kind not in access.LEDGER_ORG_KINDS
        or subject.parent_id is None
        or not subject.is_active
    ):
        refuse("只有党员和基层党组织（基层党委、党总支、党支部）有写实簿。")


NAME_LIMIT = 50  # the name columns of the ledger tables


def _name_of(user) -> str:
    if user is None or not getattr(user, "is_authenticated", False):
        return ""
    member = Member.objects.filter(user=user).only("name").first()
    return (member.name if member else (user.get_full_name() or user.get_username()))[:NAME_LIMIT]


def _event(ledger: Ledger, *, by, action: str, section: str = "", slot: str = "", comment=""):
    LedgerEvent.objects.create(
        ledger=ledger,
        actor=actor_of(by),
        actor_name=_name_of(by),
        action=action,
        section=section,
        slot=slot,
        comment=(comment or "")[:NOTE_LIMIT],
    )


def assemble(*, subject, year: int, today: datetime.date) -> LedgerView:
    """The one ledger of a member or an organisation."""
    if isinstance(subject, Member):
        return member_ledgers(year=year, members=[subject], today=today)[0]
    return org_ledgers(year=year, orgs=[subject], today=today)[0]


def _open(view: LedgerView, *, by) -> Ledger:
    """The ledger row of `view`, created on first use (with its history's first line), locked
    for this transaction."""
    if view.keeper is None:
        refuse("该党员不在任何党支部，无法建立写实簿。")
    lookup = (
        {"kind": LedgerKind.MEMBER, "member": view.member}
        if view.is_member
        else {"kind": LedgerKind.ORG, "subject_org": view.org}
    )
    ledger, created = Ledger.objects.get_or_create(
        year=view.year, **lookup, defaults={"keeper": view.keeper}
    )
    if created:
        _event(ledger, by=by, action="open")
        touch_ledgers(
            year=view.year,
            members=[view.member.pk] if view.is_member else [],
            orgs=[] if view.is_member else [view.org.pk],
        )
    return Ledger.objects.select_for_update().select_related("keeper").get(pk=ledger.pk)


@transaction.atomic
def ledgers_open(*, by, org: Organization, year: int, today: datetime.date | None = None) -> int:
    """建立写实簿: the year's ledgers `org` keeps — its members' (a branch) and its basic-level
    children's — in one step; those already open stay as they are. Returns how many were made."""
    from ledgers.selectors import kept_members, kept_orgs  # the read side of the same rule

    today = today or timezone.localdate()
    if access.leading_role_at(by, org) is None:
        refuse(f"只有{org.name}的书记或副书记可以建立写实簿。")
    if not is_campaign_year(year):
        refuse("年度有误。", "year")
    members = kept_members(org=org, year=year, today=today)
    have = set(
        Ledger.objects.filter(kind=LedgerKind.MEMBER, year=year, member__in=members).values_list(
            "member_id", flat=True
        )
    )
    new = [
        Ledger(kind=LedgerKind.MEMBER, year=year, member=m, keeper=org)
        for m in members
        if m.pk not in have
    ]
    children = kept_orgs(org=org)
    have = set(
        Ledger.objects.filter(kind=LedgerKind.ORG, year=year, subject_org__in=children).values_list(
            "subject_org_id", flat=True
        )
    )
    new += [
        Ledger(kind=LedgerKind.ORG, year=year, subject_org=c, keeper=org)
        for c in children
        if c.pk not in have
    ]
    if not new:
        return 0
    Ledger.objects.bulk_create(new, ignore_conflicts=True)
    # ignore_conflicts leaves the rows without their keys: read back those not yet opened in the
    # history (a row another request made meanwhile was skipped here and is in its history)
    made = list(
        Ledger.objects.filter(year=year, keeper=org)
        .filter(
            Q(kind=LedgerKind.MEMBER, member_id__in=[n.member_id for n in new if n.member_id])
            | Q(
                kind=LedgerKind.ORG,
                subject_org_id__in=[n.subject_org_id for n in new if n.subject_org_id],
            )
        )
        .exclude(events__action="open")
        .values_list("pk", flat=True)
    )
    actor, name = actor_of(by), _name_of(by)
    LedgerEvent.objects.bulk_create(
        [LedgerEvent(ledger_id=pk, actor=actor, actor_name=name, action="open") for pk in made]
    )
    touch_ledgers(
        year=year,
        members=[n.member_id for n in new if n.member_id],
        orgs=[n.subject_org_id for n in new if n.subject_org_id],
    )
    return len(made)


# ---------------------------------------------------------------- the text people add


def _frozen_refusal(section: SectionView) -> str | None:
    if section.signatures:
        first = min(section.signatures.values(), key=lambda s: s.seq)
        return (
            f"“{section.spec.heading}”已由{first.signer_name}于{first.signed_on:%Y年%m月%d日}"
            "签字，不能再修改；如需修改，请先撤回签字。"
        )
    return None


@transaction.atomic
def ledger_note_save(
    *,
    by,
    subject,
    year: int,
    section: str,
    kind: str,
    text: str,
    today: datetime.date | None = None,
) -> LedgerNote | None:
    """Write (or, with empty text, delete) the 简要总结, its draft, a 另附页 or the reason a record
    is missing, on a section not yet signed. Returns the note, or None when deleted."""
    today = today or timezone.localdate()
    if kind not in NoteKind.values:
        refuse("填写内容的类别有误。")
    if kind in (NoteKind.SUMMARY, NoteKind.DRAFT) and section != "year":
        refuse("简要总结只在“年度写实”中填写。")
    if not is_campaign_year(year):
        refuse("年度有误。", "year")
    _check_subject(subject)
    text = _clean(text)
    if len(text) > NOTE_LIMIT:
        refuse(f"内容不能超过{NOTE_LIMIT}字（现有{len(text)}字）。", "text")
    view = assemble(subject=subject, year=year, today=today)
    try:
        spec_view = view.section(section)
    except KeyError:
        refuse("没有这个栏目。")
    refusal = access.note_refusal(by, view, spec_view, kind)
    if refusal:
        refuse(refusal)
    frozen = _frozen_refusal(spec_view)
    if frozen:
        refuse(frozen)
    if kind == NoteKind.MISSING and text and not spec_view.missing:
        refuse("此栏记录齐全，不需要说明缺记录的原因。")
    ledger = _open(view, by=by)
    # read again under the ledger's lock: a signature may have landed since the assembly
    if Signature.objects.filter(ledger=ledger, section=section, withdrawn_at__isnull=True).exists():
        refuse("此栏刚刚已被签字，不能再修改。")
    note = LedgerNote.objects.filter(ledger=ledger, section=section, kind=kind).first()
    label = NoteKind(kind).label
    if not text:
        if note is not None:
            note.delete()
            _event(ledger, by=by, action="note_clear", section=section, comment=label)
        return None
    if note is None:
        note = LedgerNote(ledger=ledger, section=section, kind=kind)
    elif note.text == text:
        return note
    note.text, note.by, note.by_name = text, actor_of(by), _name_of(by)
    note.save()
    _event(ledger, by=by, action="note", section=section, comment=f"{label}：{text}")
    return note


# ---------------------------------------------------------------- signatures


@dataclass(frozen=True)
class SignItem:
    """One signature to make: a section's slot of a member's or an organisation's ledger."""

    subject: Member | Organization
    section: str
    slot: str
    # SectionView.shown_hash of the section as the signer saw it ("": not checked)
    shown: str = ""


def _item_label(view: LedgerView, section: SectionView) -> str:
    return f"{view.subject_name}·{section.spec.group}·{section.spec.heading}"


def _check(
    by, view: LedgerView, section: SectionView, slot: str, *, paper_on: datetime.date | None
) -> None:
    label = _item_label(view, section)
    if slot not in section.spec.slots:
        refuse(f"{label}：没有这一签字栏。")
    if slot in section.signatures:
        s = section.signatures[slot]
        refuse(f"{label}：已由{s.signer_name}于{s.signed_on:%Y年%m月%d日}签字。")
    refusal = access.sign_refusal(by, view, section, slot, paper=paper_on is not None)
    if refusal:
        refuse(f"{label}：{refusal}")
    if section.state == NONE:
        refuse(f"{label}：此栏不属于任何党支部。")
    if section.state == NOT_DUE:
        refuse(
            f"{label}：{section.due_after:%Y年%m月%d日}之后才能签字"
            f"（{'承诺期' if section.spec.builds_from == S.PLEDGES else section.period.label}结束后）。"
        )
    if section.state == MISSING:
        refuse(
            f"{label}：缺记录——{'；'.join(section.missing)}。请补齐记录，或填写缺记录说明后再签字。"
        )
    for earlier in section.spec.slots[: section.spec.slots.index(slot)]:
        if earlier not in section.signatures:
            refuse(f"{label}：应先由{S.SLOT_LABELS[earlier]}签字。")
    if paper_on is not None and paper_on <= section.due_after:
        refuse(
            f"{label}：纸质签字日期应在{section.due_after:%Y年%m月%d日}之后（此栏到期后才能签字）。"
        )


def _payload(view: LedgerView, section: SectionView, signature: Signature, ledger: Ledger) -> dict:
    return {
        "ledger": ledger.pk,
        "kind": view.kind,
        "year": view.year,
        "header": view.header,
        "section": section.key,
        "group": section.spec.group,
        "heading": section.spec.heading,
        "period": section.period.slug,
        "slot": signature.slot,
        "signer": signature.signer_name,
        "capacity": signature.capacity,
        "on_paper": signature.on_paper,
        "recorded_by": signature.recorded_by_name,
        "org": signature.org.name,
        "org_id": signature.org_id,
        "signer_id": signature.signer_id,
        "signed_on": signature.signed_on.isoformat(),
        "content": section.content if section.signatures else section.live,
    }


def _write(by, view, section, slot, ledger, *, paper_on, today) -> Signature:
    org = access.slot_org(view, section, slot)
    now = timezone.now()
    if paper_on is not None:
        name, capacity = view.member.name, "党员本人"
        signer, recorded_by, recorded_name = None, by, _name_of(by)
        signed_on = paper_on
    else:
        name, capacity = access.signer_identity(by, org, slot)
        name = name[:NAME_LIMIT]
        signer, recorded_by, recorded_name = by, None, ""
        signed_on = today
    signature = Signature(
        ledger=ledger,
        seq=ledger.signature_count + 1,
        section=section.key,
        slot=slot,
        org=org,
        signer=signer,
        signer_name=name,
        capacity=capacity,
        on_paper=paper_on is not None,
        recorded_by=recorded_by,
        recorded_by_name=recorded_name,
        signed_on=signed_on,
        signed_at=now,
    )
    signature.payload = chain.canonical(_payload(view, section, signature, ledger))
    signature.content_hash = chain.sha256(signature.payload)
    signature.prev_hash = ledger.head
    signature.chain_hash = chain.link(ledger.head, signature.content_hash)
    try:
        with transaction.atomic():  # a savepoint: the constraints are the last word on a race
            signature.save()
    except IntegrityError:
        refuse(f"{_item_label(view, section)}：此写实簿刚刚有人签字，请刷新页面后再试。")
    ledger.head, ledger.signature_count = signature.chain_hash, signature.seq
    ledger.save(update_fields=["head", "signature_count"])
    until = datetime.date(view.year, 12, 31)
    Lock.objects.bulk_create(
        [
            Lock(
                signature=signature,
                source=source,
                object_id=pk,
                until=until if source == "member" else None,
            )
            for source, pk in dict.fromkeys(section.sources)
        ]
    )
    section.signatures[slot] = signature
    action = "paper" if paper_on is not None else "sign"
    comment = f"{S.SLOT_LABELS[slot]}：{name}（{capacity}）"
    if paper_on is not None:
        comment += f"，纸质写实簿签字日期{paper_on:%Y年%m月%d日}，{recorded_name}登记"
    _event(ledger, by=by, action=action, section=section.key, slot=slot, comment=comment)
    return signature


@transaction.atomic
def ledger_sign_many(
    *,
    by,
    year: int,
    items: list[SignItem],
    paper_on: datetime.date | None = None,
    today: datetime.date | None = None,
) -> list[Signature]:
    """Sign many sections at once, each checked as if signed one by one, in the forms' order
    (a lower slot before the upper one of the same section); all or nothing. With `paper_on`,
    record that members without a login signed their paper ledgers on that day."""
    today = today or timezone.localdate()
    if not items:
        refuse("请选择要签字的栏目。")
    if paper_on is not None:
        if paper_on > today:
            refuse("纸质签字日期不能晚于今天。", "paper_on")
        if paper_on.year < year:
            refuse(f"纸质签字日期不能早于{year}年。", "paper_on")
    if not is_campaign_year(year):
        refuse("年度有误。", "year")
    for item in items:
        _check_subject(item.subject)
    members = [i.subject for i in items if isinstance(i.subject, Member)]
    orgs = [i.subject for i in items if not isinstance(i.subject, Member)]
    # lock the ledgers first (in pk order, so two batches cannot deadlock), then assemble
    views = {}
    for found in (
        member_ledgers(year=year, members=list(dict.fromkeys(members)), today=today)
        if members
        else []
    ) + (org_ledgers(year=year, orgs=list(dict.fromkeys(orgs)), today=today) if orgs else []):
        views[(found.kind, found.subject.pk)] = found
    rows = {}
    for key in sorted(views, key=lambda k: (k[0], k[1])):
        rows[key] = _open(views[key], by=by)
    # assemble again now that the rows are held: what is signed is what is there under the lock
    # (the subjects read again too: their header and login are what the checks and the
    # snapshot see, not the caller's copies)
    fresh_members = list(
        Member.objects.select_related("org", "user")
        .filter(pk__in=[k[1] for k in views if k[0] == LedgerKind.MEMBER])
        .order_by("pk")
    )
    fresh_orgs = list(
        Organization.objects.select_related("parent", "secretary")
        .filter(pk__in=[k[1] for k in views if k[0] == LedgerKind.ORG])
        .order_by("pk")
    )
    for org in fresh_orgs:
        _check_subject(org)
    views = {}
    for found in (
        member_ledgers(year=year, members=fresh_members, today=today) if fresh_members else []
    ) + (org_ledgers(year=year, orgs=fresh_orgs, today=today) if fresh_orgs else []):
        views[(found.kind, found.subject.pk)] = found
    order = {}
    for kind in (LedgerKind.MEMBER, LedgerKind.ORG):
        for n, spec in enumerate(S.sections_of(kind)):
            order[(kind, spec.key)] = n

    def rank(item: SignItem):
        kind = LedgerKind.MEMBER if isinstance(item.subject, Member) else LedgerKind.ORG
        spec_order = order.get((kind, item.section), 99)
        try:
            slot_order = S.section_spec(kind, item.section).slots.index(item.slot)
        except (KeyError, ValueError):
            slot_order = 9
        return (kind, item.subject.pk, spec_order, slot_order)

    done = []
    seen = set()
    for item in sorted(items, key=rank):
        kind = LedgerKind.MEMBER if isinstance(item.subject, Member) else LedgerKind.ORG
        key = (kind, item.subject.pk, item.section, item.slot)
        if key in seen:
            continue  # the same box ticked twice: one signature
        seen.add(key)
        view = views[(kind, item.subject.pk)]
        try:
            section = view.section(item.section)
        except KeyError:
            refuse(f"{view.subject_name}：没有这个栏目。")
        _check(by, view, section, item.slot, paper_on=paper_on)
        if item.shown and item.shown != section.shown_hash:
            refuse(
                f"{_item_label(view, section)}：内容在您查看之后有了变化，请刷新页面核对后再签字。"
            )
        ledger = rows[(kind, item.subject.pk)]
        view.ledger = ledger
        done.append(_write(by, view, section, item.slot, ledger, paper_on=paper_on, today=today))
    _touch_signed((signature.ledger, signature.section) for signature in done)
    return done


def _touch_signed(signed: Iterable[tuple[Ledger, str]]) -> None:
    """Refresh the figures that count the sections signed or withdrawn, (ledger, section): each
    section's half-year, where its ledger counts."""
    by_half: dict = {}
    for ledger, section in signed:
        half = section_half(ledger.kind, section, ledger.year)
        members, orgs = by_half.setdefault(half, (set(), set()))
        if ledger.kind == LedgerKind.MEMBER:
            members.add(ledger.member_id)
        else:
            orgs.add(ledger.subject_org_id)
    for half, (members, orgs) in by_half.items():
        touch_ledgers(year=half.year, members=members, orgs=orgs, halves=[half])


def ledger_sign(
    *,
    by,
    subject,
    year: int,
    section: str,
    slot: str,
    paper_on: datetime.date | None = None,
    today: datetime.date | None = None,
    shown: str = "",
) -> Signature:
    """Sign one section's slot of a member's or an organisation's ledger (see ledger_sign_many);
    with `shown`, only if the section is still what the signer saw."""
    return ledger_sign_many(
        by=by,
        year=year,
        items=[SignItem(subject, section, slot, shown)],
        paper_on=paper_on,
        today=today,
    )[0]


@transaction.atomic
def signature_withdraw(*, by, signature: Signature, reason: str) -> list[Signature]:
    """Withdraw a signature, with a reason kept in the history: the signer, or the secretary
    above. The upper signatures of the same section go with it. Its locks are released."""
    reason = _clean(reason)
    if not reason:
        refuse("请填写撤回理由。", "reason")
    if len(reason) > REASON_LIMIT:
        refuse(f"撤回理由不能超过{REASON_LIMIT}字。", "reason")
    ledger = Ledger.objects.select_for_update().get(pk=signature.ledger_id)
    signature = Signature.objects.select_related("org", "org__parent").get(pk=signature.pk)
    if signature.withdrawn_at is not None:
        refuse(f"该签字已于{timezone.localtime(signature.withdrawn_at):%Y年%m月%d日}撤回。")
    refusal = access.withdraw_refusal(by, signature)
    if refusal:
        refuse(refusal)
    spec = S.section_spec(ledger.kind, signature.section)
    later = spec.slots[spec.slots.index(signature.slot) :]
    withdrawn = list(
        Signature.objects.filter(
            ledger=ledger,
            section=signature.section,
            slot__in=later,
            withdrawn_at__isnull=True,
        ).order_by("-seq")
    )
    now, name = timezone.now(), _name_of(by)
    for row in withdrawn:
        row.withdrawn_at, row.withdrawn_by, row.withdrawn_name = now, by, name
        row.withdraw_reason = reason
        row.save(
            update_fields=["withdrawn_at", "withdrawn_by", "withdrawn_name", "withdraw_reason"]
        )
        _event(
            ledger,
            by=by,
            action="withdraw",
            section=row.section,
            slot=row.slot,
            comment=f"撤回{row.signer_name}（{row.capacity}）{row.signed_on:%Y年%m月%d日}的签字：{reason}",
        )
    _touch_signed((ledger, row.section) for row in withdrawn)
    return withdrawn


def member_ledger_moved(*, member, from_org, to_org, on, by) -> None:
    """A transfer hook: the ledgers of the year of the move, and later, are kept by the new
    branch; the quarters already ended stay with the branches that sign them."""
    if to_org is None:
        return
    # a move dated on or before the end of a quarter already signed would hand that quarter to
    # another branch under its signature: refused until the signature is withdrawn
    quarter_sections = [s.key for s in S.MEMBER_SECTIONS if s.period_kind == "Q"]
    signed = (
        Signature.objects.filter(
            ledger__kind=LedgerKind.MEMBER,
            ledger__member=member,
            ledger__year__gte=on.year,
            section__in=quarter_sections,
            withdrawn_at__isnull=True,
        )
        .select_related("ledger")
        .order_by("ledger__year", "seq")
    )
    for signature in signed:
        spec = S.section_spec(LedgerKind.MEMBER, signature.section)
        period = spec.period(signature.ledger.year)
        if period.end >= on:
            refuse(
                f"{member.name}{period.label}的写实簿“{spec.heading}”已由{signature.signer_name}"
                f"（{signature.capacity}）于{signature.signed_on:%Y年%m月%d日}签字，转接日期须在"
                f"{period.end:%Y年%m月%d日}之后；如确需更改，请先撤回该签字。"
            )
    Ledger.objects.filter(kind=LedgerKind.MEMBER, member=member, year__gte=on.year).update(
        keeper=to_org
    )
