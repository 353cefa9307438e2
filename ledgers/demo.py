"""Demo 写实簿 (small scale), written through the services so that the signatures, locks and
history are what real use leaves (last year's notes, many, in bulk: see `_Writer`):

- the demo village branch (zhibu_shuji's) last year: every member ledger fully signed — the
  missing records explained, the 简要总结 written, the members with a login signing their own
  slots, the others' paper signatures recorded by the secretary, the branch's slots signed by
  the secretary (by the deputy on the secretary's own ledger), each on a day after its period;
- this year, the same branch's ledgers opened, half of them signed for the sections already due
  (the 承诺写实 and the first quarters) and the rest blank; one signature withdrawn with a reason;
- the neighbouring branch's ledgers of this year opened and blank;
- the township committee's ledgers of its branches (and its 党总支): the 承诺写实 and the first
  half-year signed by each branch's secretary and the committee's for some, blank for others.

Before this year's 承诺写实 can be signed (the pledge window closes at the end of March), the
part-signed ledgers and the withdrawn signature are last year's of the neighbouring branch.

At province scale (benchmarks) only the demo branch's ledgers of this year are opened.
"""

from __future__ import annotations

import datetime

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from ledgers import access, services
from ledgers import sections as S
from ledgers.assembly import MISSING, PARTLY, READY, member_ledgers, org_ledgers
from ledgers.models import LedgerEvent, LedgerNote, NoteKind, Signature
from ledgers.selectors import kept_members, kept_orgs
from ledgers.services import SignItem
from orgs.access import grants_for
from orgs.models import Member, Organization, Role

SUMMARY = (
    "全年按要求参加组织生活，公开承诺事项逐季落实，带头参加志愿服务和环境整治，"
    "联系群众10余户，帮助解决实际困难；不足是理论学习还不够系统，明年加强。"
)
ORG_SUMMARY = (
    "本年度围绕公开承诺事项为群众办实事，落实“三会一课”，党员教育管理逐步规范；"
    "存在的不足是活动形式还不够丰富。"
)
# why a record is missing: before the system was in use (last year), and this year
OLD_RECORDS = "本系统启用前的记录未录入，见支部存档的纸质材料（已核实）。"
MISSING_REASON = {
    S.PLEDGES: "该党员的承诺为口头承诺，尚未录入，经支部委员会核实。",
    S.FULFILMENT: "本期兑现情况在支部党员大会上口头报告，未形成书面记录。",
    S.REVIEW: "本期领导点评为集中点评，未形成个人书面意见。",
    S.YEAR_END: "该党员外出务工，未参加本年度民主评议，经支部委员会认定。",
}
ORG_MISSING_REASON = {
    S.PLEDGES: "本组织年度承诺经党员大会讨论通过，书面材料存档，尚未录入。",
    S.FULFILMENT: "本半年兑现情况已在党员大会上报告，书面材料存档，尚未录入。",
    S.REVIEW: "上级党委本半年为集中点评，未形成对本组织的书面意见。",
    S.YEAR_END: "本年度民主评议按上级安排在年底统一进行。",
}
SECRETARY_REVIEW = "党支部书记由上级党委点评，见上级党委的点评意见表。"
WITHDRAW_REASON = "点评内容与点评意见表不一致，撤回后核对重签。"


def _org_of(user, role=Role.SECRETARY) -> Organization | None:
    grant = next((g for g in grants_for(user) if g.role == role), None)
    return Organization.objects.get(pk=grant.org_id) if grant else None


def _missing_reason(view, section, today: datetime.date) -> str:
    if view.year < today.year:
        return OLD_RECORDS
    if (
        view.is_member
        and section.spec.is_review
        and section.owner is not None
        and section.owner.secretary_id == view.member.pk
    ):
        return SECRETARY_REVIEW
    reasons = MISSING_REASON if view.is_member else ORG_MISSING_REASON
    return reasons[section.spec.builds_from]


class _Writer:
    """Fills and signs one section of many ledgers of one year, slot by slot in the form's
    order, on a day soon after the section became signable (never after today).

    With `bulk_notes`, the summaries and reasons go in with two bulk inserts per section rather
    than one service call each (a service call assembles the ledger again: for a branch's whole
    year that is most of the demo's time); the same rows and history the service writes, for
    opened ledgers whose section is not signed, and each signature still checks them."""

    def __init__(self, *, year: int, today: datetime.date, bulk_notes: bool = False):
        self.year, self.today, self.bulk_notes = year, today, bulk_notes
        self.signatures = 0
        self._pending: list[tuple] = []

    def _views(self, subjects: list, day: datetime.date):
        if isinstance(subjects[0], Member):
            return member_ledgers(year=self.year, members=subjects, today=day)
        return org_ledgers(year=self.year, orgs=subjects, today=day)

    def _note(self, keeper_user, view, section, kind: str, text: str, day) -> None:
        if self.bulk_notes and view.ledger is not None:
            refusal = access.note_refusal(keeper_user, view, section, kind)
            if refusal:
                raise ValidationError(refusal)
            self._pending.append((keeper_user, view.ledger, section.key, kind, text))
            return
        services.ledger_note_save(
            by=keeper_user, subject=view.subject, year=self.year, section=section.key, kind=kind,
            text=text, today=day,
        )  # fmt: skip

    def _flush_notes(self) -> None:
        if not self._pending:
            return
        names = {}
        for user, *_rest in self._pending:
            if user.pk not in names:
                member = Member.objects.filter(user=user).only("name").first()
                names[user.pk] = member.name if member else user.get_username()
        LedgerNote.objects.bulk_create(
            LedgerNote(
                ledger=ledger, section=key, kind=kind, text=text, by=user, by_name=names[user.pk]
            )
            for user, ledger, key, kind, text in self._pending
        )
        LedgerEvent.objects.bulk_create(
            LedgerEvent(
                ledger=ledger,
                actor=user,
                actor_name=names[user.pk],
                action="note",
                section=key,
                comment=f"{NoteKind(kind).label}：{text}",
            )
            for user, ledger, key, kind, text in self._pending
        )
        self._pending = []

    def _explain(self, keeper_user, view, section, day: datetime.date) -> None:
        """The 简要总结 and the reason for each missing record, by the keeper's secretary."""
        missing = section.state == MISSING
        if section.key == "year" and NoteKind.SUMMARY not in section.notes:
            text = SUMMARY if view.is_member else ORG_SUMMARY
            self._note(keeper_user, view, section, NoteKind.SUMMARY, text, day)
            # with the summary written, what may still be missing is the appraisal
            missing = missing and section.live.get("appraisal") is None
        if missing:
            reason = _missing_reason(view, section, self.today)
            self._note(keeper_user, view, section, NoteKind.MISSING, reason, day)

    def section(self, key: str, subjects: list, *, keeper_user, signers) -> None:
        """Explain what is missing, then sign `key` of every subject's ledger, slot by slot.
        `signers(view, slot)` → the (user, on paper) who may sign a slot, the first allowed
        signing; a slot none of them may sign is left open, and the slots above it."""
        if not subjects:
            return
        # read as of today: what a section's state depends on (its period, its keeper and
        # owner, its records) is the same on the earlier day it is signed
        views = self._views(subjects, self.today)
        due_after = views[0].section(key).due_after
        if self.today <= due_after:
            return  # not signable yet
        day = min(due_after + datetime.timedelta(days=10), self.today)
        todo = []
        for view in views:
            section = view.section(key)
            if section.state in (READY, MISSING):
                self._explain(keeper_user, view, section, day)
            if section.state in (READY, MISSING, PARTLY):
                todo.append((view, section, set(section.signatures)))
        self._flush_notes()
        for n, slot in enumerate(S.section_spec(todo[0][0].kind, key).slots if todo else ()):
            batches: dict[tuple[int, bool], tuple[object, list]] = {}
            for view, section, signed in todo:
                lower = section.spec.slots[:n]
                if slot in signed or any(s not in signed for s in lower):
                    continue
                allowed = [
                    (user, paper)
                    for user, paper in signers(view, slot)
                    if user is not None
                    and access.sign_refusal(user, view, section, slot, paper=paper) is None
                ]
                if not allowed:
                    continue
                user, paper = allowed[0]
                batches.setdefault((user.pk, paper), (user, []))[1].append((signed, view))
            for (_pk, paper), (user, found) in batches.items():
                items = [SignItem(view.subject, key, slot) for _signed, view in found]
                done = services.ledger_sign_many(
                    by=user, year=self.year, items=items, paper_on=day if paper else None,
                    today=day,
                )  # fmt: skip
                self.signatures += len(done)
                for signed, _view in found:  # all or nothing: every one of them is signed
                    signed.add(slot)


def _member_signers(secretary, deputy=None):
    """A member signs with their own login, or the secretary records their paper signature; the
    branch's slot is the secretary's, and the deputy's on the secretary's own ledger."""

    def signers(view, slot):
        if slot == S.MEMBER_SELF:
            member = view.member
            return [(member.user, False) if member.user_id else (secretary, True)]
        return [(secretary, False), (deputy, False)]

    return signers


def _org_signers(upper_user):
    """An organisation's own slot by its secretary's login; the keeper's by `upper_user`."""

    def signers(view, slot):
        if slot == S.UPPER:
            return [(upper_user, False)]
        head = view.org.secretary
        return [(head.user if head is not None and head.user_id else None, False)]

    return signers


def _fully_signed(writer: _Writer, *, branch, secretary, deputy) -> list[Member]:
    members = kept_members(org=branch, year=writer.year, today=writer.today)
    signers = _member_signers(secretary, deputy)
    for spec in S.MEMBER_SECTIONS:
        writer.section(spec.key, members, keeper_user=secretary, signers=signers)
    return members


def _part_signed(writer: _Writer, *, branch, secretary, deputy) -> list[Member]:
    """Half the members: the 承诺写实 and the first two quarters (those due); the rest blank."""
    members = kept_members(org=branch, year=writer.year, today=writer.today)
    half = members[: (len(members) + 1) // 2]
    signers = _member_signers(secretary, deputy)
    for key in ("pledge", "q1", "q1r", "q2", "q2r"):
        writer.section(key, half, keeper_user=secretary, signers=signers)
    return half


def _org_part_signed(writer: _Writer, *, town, town_secretary) -> None:
    """The township's branches: the 承诺写实 for all but the last, the first half-year for half
    of them."""
    children = kept_orgs(org=town)[:-1]
    signers = _org_signers(town_secretary)
    writer.section("pledge", children, keeper_user=town_secretary, signers=signers)
    first = children[: (len(children) + 1) // 2]
    for key in ("h1", "h1r"):
        writer.section(key, first, keeper_user=town_secretary, signers=signers)


def _withdraw_one(*, secretary, year: int, members: list[Member]) -> int:
    """The branch's signature of a first-quarter review, withdrawn by the secretary, with the
    reason; the section waits for a new signature."""
    signature = (
        Signature.objects.filter(
            ledger__year=year,
            ledger__member__in=members,
            section="q1r",
            slot=S.BRANCH,
            withdrawn_at__isnull=True,
        )
        .order_by("ledger__member__name", "pk")
        .first()
    )
    if signature is None:
        return 0
    return len(
        services.signature_withdraw(by=secretary, signature=signature, reason=WITHDRAW_REASON)
    )


def _signable_this_year(branch, year: int, today: datetime.date) -> bool:
    """Whether this year's 承诺写实 (the first section) can be signed yet."""
    members = kept_members(org=branch, year=year, today=today)[:1]
    if not members:
        return False
    return today > member_ledgers(year=year, members=members, today=today)[0].sections[0].due_after


def seed(*, scale: str, rng, today: datetime.date, log) -> dict:
    User = get_user_model()
    names = ("zhibu_shuji", "zhibu_fushuji", "zhibu2_shuji", "zhen_shuji")
    users = {u.username: u for u in User.objects.filter(username__in=names)}
    if len(users) < len(names):
        return {}
    secretary, deputy, neighbour, town_secretary = (users[n] for n in names)
    branch, neighbour_branch, town = (_org_of(u) for u in (secretary, neighbour, town_secretary))
    if branch is None or neighbour_branch is None or town is None:
        return {}
    year, last = today.year, today.year - 1
    log("写实簿写入中…")
    if scale != "small":
        opened = services.ledgers_open(by=secretary, org=branch, year=year, today=today)
        log(f"写实簿 {opened} 本。")
        return {"ledgers": opened}
    opened = signed = withdrawn = 0
    try:
        # last year, fully signed
        opened += services.ledgers_open(by=secretary, org=branch, year=last, today=today)
        writer = _Writer(year=last, today=today, bulk_notes=True)
        _fully_signed(writer, branch=branch, secretary=secretary, deputy=deputy)
        signed += writer.signatures
        # this year: opened; part-signed where anything is due yet
        opened += services.ledgers_open(by=secretary, org=branch, year=year, today=today)
        opened += services.ledgers_open(by=neighbour, org=neighbour_branch, year=year, today=today)
        opened += services.ledgers_open(by=town_secretary, org=town, year=year, today=today)
        this_year_due = _signable_this_year(branch, year, today)
        part_year, part_branch, part_secretary, part_deputy = (
            (year, branch, secretary, deputy)
            if this_year_due
            else (last, neighbour_branch, neighbour, None)
        )
        if part_year == last:
            opened += services.ledgers_open(
                by=neighbour, org=neighbour_branch, year=last, today=today
            )
            opened += services.ledgers_open(by=town_secretary, org=town, year=last, today=today)
        writer = _Writer(year=part_year, today=today)
        members = _part_signed(
            writer, branch=part_branch, secretary=part_secretary, deputy=part_deputy
        )
        _org_part_signed(writer, town=town, town_secretary=town_secretary)
        signed += writer.signatures
        withdrawn = _withdraw_one(secretary=part_secretary, year=part_year, members=members)
    except ValidationError as error:  # a demo tree without the expected shape: say so, go on
        log(f"写实簿演示数据未完整生成：{'；'.join(error.messages)}")
    log(f"写实簿 {opened} 本，签字 {signed} 次，撤回 {withdrawn} 次。")
    return {"ledgers": opened, "ledger_signatures": signed}
