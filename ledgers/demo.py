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

At province scale (benchmarks) the demo branch's ledgers of this year are opened, and those of a
share of the townships opened and signed in bulk (`seed_province`).
"""

from __future__ import annotations

import datetime

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Count, Max
from django.utils import timezone

from ledgers import access, chain, services
from ledgers import sections as S
from ledgers.access import LEDGER_ORG_KINDS
from ledgers.assembly import MISSING, PARTLY, READY, member_ledgers, org_ledgers
from ledgers.models import Ledger, LedgerEvent, LedgerKind, LedgerNote, Lock, NoteKind, Signature
from ledgers.selectors import kept_members, kept_orgs
from ledgers.services import SignItem
from orgs.access import grants_for
from orgs.demo import bulk_copy, loading, reset_sequences
from orgs.models import Member, Membership, Organization, OrgKind, Role

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
        share = seed_province(rng=rng, today=today, log=log)
        return {**share, "ledgers": opened + share["ledgers"]}
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


# ---------------------------------------------------------------- province scale, in bulk

SHARE = 0.02  # of the townships: every ledger of this year in their subtree opened
# how far each keeper has got with the signatures: every section due, the 承诺写实 and the first
# period only, none yet
DILIGENCE = (("full", 45), ("part", 30), ("none", 25))
PART_SECTIONS = frozenset({"pledge", "q1", "q1r", "h1", "h1r"})
BENCH_SIGNER = "bench_reviewer"  # at province scale one account stands for the secretaries
# ledgers assembled at a time (SQLite: fewer, it limits the size of a query's conditions)
CHUNK = 2000 if connection.vendor == "postgresql" else 300
LEDGER_COLUMNS = [
    "id", "kind", "year", "member_id", "subject_org_id", "keeper_id", "head", "signature_count",
    "created_at",
]  # fmt: skip
EVENT_COLUMNS = [
    "ledger_id",
    "at",
    "actor_id",
    "actor_name",
    "action",
    "section",
    "slot",
    "comment",
]
SIGNATURE_COLUMNS = [
    "id", "ledger_id", "seq", "section", "slot", "org_id", "signer_id", "signer_name", "capacity",
    "on_paper", "recorded_by_id", "recorded_by_name", "signed_on", "signed_at", "payload",
    "content_hash", "prev_hash", "chain_hash", "withdrawn_at", "withdrawn_by_id",
    "withdrawn_name", "withdraw_reason",
]  # fmt: skip
LOCK_COLUMNS = ["signature_id", "source", "object_id", "until"]


def seed_province(*, rng, today: datetime.date, log) -> dict:
    """This year's ledgers of a share of the townships, every one of their subtree opened (the
    members' by their branches, the basic-level organisations' by their parents) and signed as
    far as each keeper has got: every section due, the 承诺写实 and the first period, or none.

    Each signature is what ledger_sign_many would write — the section assembled from the
    records, its snapshot, hash and chain link, the locks on every record under it, the history
    line — written in bulk, and only where the service would accept it. So some sections due
    stay unsigned: those with a missing record (a member without an approved pledge, a quarter's
    fulfilment not reported, a review not written; the service asks for the keeper's 缺记录说明
    first) and the secretary's own member ledger (its branch slot is a deputy's, and the seed
    has no deputies). Members sign on paper, recorded by the branch; the secretaries' slots are
    signed by one account (as the reviews are) in each secretary's name.

    The demo logins' county and the county with most members are left out: there the pages and
    bench/ledgers_bench.py open and sign their own through the services."""
    year = today.year
    signer, _ = get_user_model().objects.get_or_create(
        username=BENCH_SIGNER, defaults={"first_name": "点评人"}
    )
    tree = _Tree()
    townships = [
        pk
        for pk in tree.townships(spared=_spared_counties(tree))
        if rng.random() < SHARE
        and not Ledger.objects.filter(year=year, keeper_id__in=tree.subtree(pk)).exists()
    ]
    log("写实簿（部分乡镇）写入中…")
    writer = _BulkWriter(year=year, today=today, rng=rng, signer=signer, tree=tree)
    opened = writer.open(townships)
    signed = writer.sign()
    log(f"写实簿 {opened} 本，签字 {signed} 次。")
    return {"ledgers": opened, "ledger_signatures": signed}


class _Tree:
    """The active organisations, read once: (parent, kind, secretary) by id."""

    def __init__(self):
        self.rows = {
            pk: (parent_id, kind, secretary_id)
            for pk, parent_id, kind, secretary_id in Organization.objects.filter(
                is_active=True
            ).values_list("pk", "parent_id", "kind", "secretary_id")
        }
        self.children: dict[int, list[int]] = {}
        for pk, (parent_id, _, _) in sorted(self.rows.items()):
            self.children.setdefault(parent_id, []).append(pk)

    def kind(self, pk: int) -> str:
        return self.rows[pk][1]

    def subtree(self, pk: int) -> list[int]:
        found, stack = [], [pk]
        while stack:
            node = stack.pop()
            found.append(node)
            stack.extend(self.children.get(node, []))
        return found

    def county_of(self, pk: int | None) -> int | None:
        while pk in self.rows and self.kind(pk) != OrgKind.COUNTY:
            pk = self.rows[pk][0]
        return pk if pk in self.rows else None

    def townships(self, *, spared: set[int]) -> list[int]:
        return [
            pk
            for pk, (parent_id, kind, _) in sorted(self.rows.items())
            if kind == OrgKind.COMMITTEE
            and parent_id in self.rows
            and self.kind(parent_id) == OrgKind.COUNTY
            and parent_id not in spared
        ]


def _spared_counties(tree: _Tree) -> set[int]:
    """The county of the demo logins and the county with most members."""
    spared = set()
    demo = get_user_model().objects.filter(username="zhen_shuji").first()
    town = _org_of(demo) if demo else None
    if town is not None:
        spared.add(tree.county_of(town.pk))
    sizes: dict[int, int] = {}
    for org_id, n in (
        Member.objects.values("org_id").annotate(n=Count("pk")).values_list("org_id", "n")
    ):
        county = tree.county_of(org_id)
        if county is not None:
            sizes[county] = sizes.get(county, 0) + n
    if sizes:
        spared.add(max(sizes, key=lambda pk: (sizes[pk], -pk)))
    return spared


class _BulkWriter:
    """Opens the ledgers of the chosen townships, then signs them a chunk at a time."""

    def __init__(self, *, year: int, today: datetime.date, rng, signer, tree: _Tree):
        self.year, self.today, self.rng, self.signer, self.tree = year, today, rng, signer, tree
        self.now = timezone.now()
        self.member_ledgers: dict[int, list[int]] = {}  # keeper → member ids
        self.org_ledgers: dict[int, list[int]] = {}  # keeper → organisation ids
        self.diligence: dict[int, str] = {}
        self.secretaries: dict[int, tuple[int, str]] = {}  # organisation → its secretary
        self.next_signature = 0
        self.signatures = 0

    def open(self, townships: list[int]) -> int:
        """建立写实簿 for every keeper below each township, as ledgers_open would: one ledger
        and its history's first line each."""
        keepers = [pk for town in townships for pk in self.tree.subtree(town)]
        for pk in keepers:
            parent_id = self.tree.rows[pk][0]
            if pk not in townships and self.tree.kind(pk) in LEDGER_ORG_KINDS:
                self.org_ledgers.setdefault(parent_id, []).append(pk)
        day = min(self.today, datetime.date(self.year, 12, 31))
        for member_id, org_id in (
            Membership.objects.on(day)
            .filter(org_id__in=keepers)
            .order_by("org_id", "member_id")
            .values_list("member_id", "org_id")
        ):
            self.member_ledgers.setdefault(org_id, []).append(member_id)
        heads = {pk: self.tree.rows[pk][2] for pk in {*keepers, *self.org_ledgers}}
        names = dict(
            Member.objects.filter(pk__in=[h for h in heads.values() if h]).values_list("pk", "name")
        )
        self.secretaries = {pk: (h, names[h]) for pk, h in heads.items() if h in names}
        names = [d for d, _ in DILIGENCE]
        weights = [w for _, w in DILIGENCE]
        for keeper in sorted({*self.member_ledgers, *self.org_ledgers}):
            self.diligence[keeper] = self.rng.choices(names, weights)[0]
        first = (Ledger.objects.aggregate(m=Max("id"))["m"] or 0) + 1
        rows = [
            (LedgerKind.MEMBER, member_id, None, keeper)
            for keeper, ids in sorted(self.member_ledgers.items())
            for member_id in ids
        ] + [
            (LedgerKind.ORG, None, org_id, keeper)
            for keeper, ids in sorted(self.org_ledgers.items())
            for org_id in ids
        ]
        bulk_copy(
            Ledger._meta.db_table,
            LEDGER_COLUMNS,
            (
                (first + n, kind, self.year, member_id, org_id, keeper, "", 0, self.now)
                for n, (kind, member_id, org_id, keeper) in enumerate(rows)
            ),
        )
        bulk_copy(
            LedgerEvent._meta.db_table,
            EVENT_COLUMNS,
            (
                (first + n, self.now, self.signer.pk, "点评人", "open", "", "", "")
                for n in range(len(rows))
            ),
        )
        reset_sequences([Ledger, LedgerEvent])
        return len(rows)

    def sign(self) -> int:
        """Sign, a chunk of ledgers at a time, what each keeper has got to."""
        chunks: list[tuple[str, list[int]]] = []
        for kind, by_keeper in (
            (LedgerKind.MEMBER, self.member_ledgers),
            (LedgerKind.ORG, self.org_ledgers),
        ):
            batch: list[int] = []
            for keeper, ids in sorted(by_keeper.items()):
                if self.diligence[keeper] == "none":
                    continue
                batch += ids
                if len(batch) >= CHUNK:
                    chunks.append((kind, batch))
                    batch = []
            if batch:
                chunks.append((kind, batch))
        self.next_signature = (Signature.objects.aggregate(m=Max("id"))["m"] or 0) + 1
        with loading(Lock._meta.db_table), loading(LedgerEvent._meta.db_table):
            for kind, ids in chunks:
                self._sign_chunk(kind, ids)
        reset_sequences([Signature, Lock, LedgerEvent])
        return self.signatures

    def _views(self, kind: str, ids: list[int]):
        if kind == LedgerKind.MEMBER:
            members = list(
                Member.objects.filter(pk__in=ids).select_related("org", "user").order_by("pk")
            )
            return member_ledgers(year=self.year, members=members, today=self.today)
        orgs = list(
            Organization.objects.filter(pk__in=ids)
            .select_related("parent", "secretary")
            .order_by("pk")
        )
        return org_ledgers(year=self.year, orgs=orgs, today=self.today)

    def _sign_chunk(self, kind: str, ids: list[int]) -> None:
        signatures, locks, events, heads = [], [], [], []
        for view in self._views(kind, ids):
            ledger = view.ledger
            keeper = ledger.keeper_id
            wanted = self.diligence[keeper]
            for section in view.sections:
                if wanted == "part" and section.key not in PART_SECTIONS:
                    continue
                if section.state not in (READY, PARTLY):
                    continue  # not due, or a record missing and not explained
                day = min(
                    section.due_after + datetime.timedelta(days=self.rng.randint(1, 15)),
                    self.today,
                )
                for slot in section.spec.slots:
                    if slot in section.signatures:
                        continue
                    who = self._identity(view, section, slot)
                    if who is None:
                        break  # the slots above wait for this one
                    signature = self._signature(view, section, slot, ledger, who, day)
                    signatures.append(signature)
                    until = datetime.date(view.year, 12, 31)
                    locks += [
                        (signature.pk, source, pk, until if source == "member" else None)
                        for source, pk in dict.fromkeys(section.sources)
                    ]
                    events.append(self._event(signature))
            if ledger.signature_count:
                heads.append((ledger.pk, ledger.head, ledger.signature_count))
        bulk_copy(
            Signature._meta.db_table,
            SIGNATURE_COLUMNS,
            (
                (
                    s.pk,
                    s.ledger_id,
                    s.seq,
                    s.section,
                    s.slot,
                    s.org_id,
                    s.signer_id,
                    s.signer_name,
                    s.capacity,
                    s.on_paper,
                    s.recorded_by_id,
                    s.recorded_by_name,
                    s.signed_on,
                    s.signed_at,
                    s.payload,
                    s.content_hash,
                    s.prev_hash,
                    s.chain_hash,
                    None,
                    None,
                    "",
                    "",
                )
                for s in signatures
            ),  # fmt: skip
        )
        bulk_copy(Lock._meta.db_table, LOCK_COLUMNS, locks)
        bulk_copy(LedgerEvent._meta.db_table, EVENT_COLUMNS, events)
        _set_heads(heads)
        self.signatures += len(signatures)

    def _identity(self, view, section, slot: str):
        """(organisation, on paper, name, capacity, recorded by) of a slot's signer, or None
        when the seed has nobody the service would let sign it."""
        org = access.slot_org(view, section, slot)
        head = self.secretaries.get(org.pk) if org is not None else None
        if head is None:
            return None
        head_id, head_name = head
        if slot == S.MEMBER_SELF:
            return org, True, view.member.name[:50], "党员本人", head_name[:50]
        if view.is_member and view.member.pk == head_id:
            return None  # the secretary's own ledger: a deputy's slot
        return org, False, head_name[:50], access.capacity_text(org, Role.SECRETARY), ""

    def _signature(self, view, section, slot: str, ledger, who, day) -> Signature:
        org, paper, name, capacity, recorded_by = who
        signature = Signature(
            pk=self.next_signature,
            ledger_id=ledger.pk,
            seq=ledger.signature_count + 1,
            section=section.key,
            slot=slot,
            org=org,
            signer=None if paper else self.signer,
            signer_name=name,
            capacity=capacity,
            on_paper=paper,
            recorded_by=self.signer if paper else None,
            recorded_by_name=recorded_by,
            signed_on=day,
            signed_at=self.now,
        )
        self.next_signature += 1
        signature.payload = chain.canonical(services._payload(view, section, signature, ledger))
        signature.content_hash = chain.sha256(signature.payload)
        signature.prev_hash = ledger.head
        signature.chain_hash = chain.link(ledger.head, signature.content_hash)
        ledger.head, ledger.signature_count = signature.chain_hash, signature.seq
        section.signatures[slot] = signature
        return signature

    def _event(self, signature: Signature) -> tuple:
        comment = (
            f"{S.SLOT_LABELS[signature.slot]}：{signature.signer_name}（{signature.capacity}）"
        )
        if signature.on_paper:
            comment += (
                f"，纸质写实簿签字日期{signature.signed_on:%Y年%m月%d日}，"
                f"{signature.recorded_by_name}登记"
            )
        return (
            signature.ledger_id, self.now, self.signer.pk,
            signature.recorded_by_name if signature.on_paper else signature.signer_name,
            "paper" if signature.on_paper else "sign", signature.section, signature.slot, comment,
        )  # fmt: skip


def _set_heads(heads: list[tuple[int, str, int]]) -> None:
    """The chain's end and the signature count of each ledger signed."""
    if not heads:
        return
    table = Ledger._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} g SET head = v.head, signature_count = v.n FROM "
                "(SELECT unnest(%s::bigint[]) AS id, unnest(%s::text[]) AS head, "
                "unnest(%s::int[]) AS n) v WHERE g.id = v.id",
                [[h[0] for h in heads], [h[1] for h in heads], [h[2] for h in heads]],
            )
        else:
            cursor.executemany(
                f"UPDATE {table} SET head = %s, signature_count = %s WHERE id = %s",
                [(head, n, pk) for pk, head, n in heads],
            )
