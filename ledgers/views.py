"""The 写实簿 pages of secretaries and members: a branch's grid of its members' ledgers, a parent's
grid of its child organisations' ledgers, one ledger, its history, and the steps taken on them —
signing one section or many at once, withdrawing a signature, the text people add, opening a
year's ledgers. Each view fetches through the access getters (404 outside the scope, 403 inside
for those who may not act), then the form, then the service, then a redirect."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from functools import partial

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ledgers import access, selectors, services
from ledgers import sections as S
from ledgers.assembly import (
    MISSING,
    NOT_DUE,
    PARTLY,
    READY,
    LedgerView,
    SectionView,
    member_ledgers,
    org_ledgers,
)
from ledgers.forms import Cell, NoteForm, SignForm, SignManyForm, WithdrawForm
from ledgers.models import Ledger, LedgerEvent, LedgerKind, LedgerNote, NoteKind, Signature
from orgs import access as org_access
from orgs.access import Action
from orgs.feedback import show_refusal
from orgs.form_helpers import apply_errors, first_error
from orgs.models import Organization, kind_allowed_under
from orgs.pager import page_of
from orgs.periods import YEAR, Period, year_or_404
from orgs.selectors import members_during

# members (organisations) per grid page: each page is one assembly of its rows' ledgers
GRID_PAGE = 30

# who signs next, as a grid cell names it
SHORT_SLOT_LABELS = {
    S.MEMBER_SELF: "本人",
    S.BRANCH: "支部书记",
    S.ORG_SELF: "本组织书记",
    S.UPPER: "上级书记",
}

NOTE_TITLES = {
    NoteKind.SUMMARY: "年度开展创先争优活动情况简要总结",
    NoteKind.DRAFT: "简要总结（初稿）",
    NoteKind.SUPPLEMENT: "另附页",
    NoteKind.MISSING: "缺记录说明",
}


def ledger_year(today: datetime.date) -> int:
    """The year whose ledgers are being completed: in the first quarter the last year's (its
    fourth quarter and 年度写实 are signed then, and nothing of the new year is due yet)."""
    return today.year if today.month > 3 else today.year - 1


def keeps_members(org: Organization) -> bool:
    return org.holds_members


def keeps_orgs(org: Organization) -> bool:
    """Whether basic-level organisations, whose ledgers it keeps, may sit under `org`."""
    return any(kind_allowed_under(kind, org.kind) for kind in access.LEDGER_ORG_KINDS)


def grid_members(*, org: Organization, year: int, today: datetime.date):
    """The rows of a branch's grid: every member on its roll at any time in `year` (up to
    today), by name — selectors.branch_grid's members, as a queryset to page."""
    whole = Period.whole_year(year)
    return members_during(org=org, start=whole.start, end=min(today, whole.end))


# ---------------------------------------------------------------- what the user may sign now


@dataclass(frozen=True)
class Choice:
    """A slot the user may sign now; `paper`: the secretary records that the member signed the
    paper ledger (a member without a login)."""

    slot: str
    paper: bool

    @property
    def label(self) -> str:
        return S.SLOT_LABELS[self.slot]


def sign_choice(user, view: LedgerView, section: SectionView) -> Choice | None:
    """The next slot of `section` if it waits for a signature and `user` may give it (or record
    it from the paper ledger), else None. The service checks the same again when signing."""
    if section.state not in (READY, PARTLY) or section.next_slot is None:
        return None
    slot = section.next_slot
    if access.sign_refusal(user, view, section, slot) is None:
        return Choice(slot, False)
    if slot == S.MEMBER_SELF and access.sign_refusal(user, view, section, slot, paper=True) is None:
        return Choice(slot, True)
    return None


# ---------------------------------------------------------------- the grids


@dataclass
class GridCell:
    section: SectionView
    choice: Choice | None
    value: str  # the box's value when there is a choice
    elsewhere: Organization | None  # the other branch whose secretary signs this quarter
    waiting: str  # who signs next, while the section waits for a signature


@dataclass
class GridRow:
    view: LedgerView
    cells: list[GridCell]
    next: SectionView | None  # the first section that waits for someone
    url: str  # the ledger's page

    @property
    def next_missing(self) -> list[str]:
        """What the next section lacks, and who owes it, when records are missing."""
        return self.next.missing if self.next is not None and self.next.state == MISSING else []

    @property
    def next_signer(self) -> str:
        """Who signs the next section, when it waits for a signature."""
        if self.next is None or self.next.state not in (READY, PARTLY):
            return ""
        return S.SLOT_LABELS[self.next.next_slot]


def _grid_rows(user, org: Organization, views: list[LedgerView]) -> list[GridRow]:
    rows = []
    for view in views:
        cells = []
        for section in view.sections:
            choice = sign_choice(user, view, section)
            owner = section.owner
            cells.append(
                GridCell(
                    section=section,
                    choice=choice,
                    value=Cell(view.subject.pk, section.key, choice.slot).value if choice else "",
                    elsewhere=owner
                    if view.is_member and owner is not None and owner.pk != org.pk
                    else None,
                    waiting=SHORT_SLOT_LABELS[section.next_slot]
                    if section.state in (READY, PARTLY)
                    else "",
                )
            )
        # whoever reads the grid reads each of its ledgers (get_member_for_ledger with the year)
        route = "ledgers:member" if view.is_member else "ledgers:org"
        url = reverse(route, args=[view.subject.pk, view.year])
        rows.append(GridRow(view, cells, view.next_action(), url))
    return rows


def _grid_org(user, pk, year, *, kind: str) -> Organization:
    """The organisation whose grid of `kind` is asked for: 404 outside the user's reading scope
    or where it keeps no such ledgers, 403 for those who see it without a reading role."""
    org = org_access.get_org_for_user(user, pk, Action.EXPORT)
    year_or_404(year)
    keeps = keeps_members(org) if kind == LedgerKind.MEMBER else keeps_orgs(org)
    if not keeps:
        raise Http404("该党组织不保管此类写实簿。")
    return org


def _grid_page(user, org: Organization, year: int, kind: str, today: datetime.date, number):
    """Page `number` of the grid (orgs.pager's rule: the first or last for one out of range)
    and its rows: one assembly of the page's ledgers."""
    if kind == LedgerKind.MEMBER:
        page = Paginator(grid_members(org=org, year=year, today=today), GRID_PAGE).get_page(number)
        assemble = partial(member_ledgers, members=list(page.object_list))
    else:
        page = Paginator(selectors.kept_orgs(org=org), GRID_PAGE).get_page(number)
        assemble = partial(org_ledgers, orgs=list(page.object_list))
    views = assemble(year=year, today=today) if page.object_list else []
    return page, _grid_rows(user, org, views)


def _grid(request, pk, year, *, kind: str):
    org = _grid_org(request.user, pk, year, kind=kind)
    today = timezone.localdate()
    page, rows = _grid_page(request.user, org, year, kind, today, request.GET.get("page"))
    leads = access.leading_role_at(request.user, org) is not None
    return render(
        request,
        "ledgers/ledger_grid.html",
        {
            "org": org,
            "year": year,
            "kind": kind,
            "is_member": kind == LedgerKind.MEMBER,
            "page": page,
            "rows": rows,
            "specs": S.sections_of(kind),
            "own_count": sum(
                1 for row in rows for cell in row.cells if cell.choice and not cell.choice.paper
            ),
            "paper_count": sum(
                1 for row in rows for cell in row.cells if cell.choice and cell.choice.paper
            ),
            "may_sign": leads,
            "may_open": leads and any(row.view.ledger is None for row in rows),
            "sign_url": reverse(
                "ledgers:branch_sign" if kind == LedgerKind.MEMBER else "ledgers:children_sign",
                args=[org.pk, year],
            ),
            "route": "ledgers:branch" if kind == LedgerKind.MEMBER else "ledgers:children",
            "years": _years(year, today),
        },
    )


def _years(year: int, today: datetime.date) -> dict:
    """The year switcher: the year before, and the year after while it has begun."""
    return {
        "before": year - 1 if year - 1 >= 2000 else None,
        "after": year + 1 if year + 1 <= today.year else None,
    }


@require_GET
def branch(request, pk, year):
    """A branch's ledgers of `year`: its members × the sections, each cell's state."""
    return _grid(request, pk, year, kind=LedgerKind.MEMBER)


@require_GET
def children(request, pk, year):
    """A parent's grid of its child basic-level organisations' ledgers of `year`."""
    return _grid(request, pk, year, kind=LedgerKind.ORG)


# ---------------------------------------------------------------- signing many at once


@dataclass
class SignLine:
    view: LedgerView
    section: SectionView
    cell: Cell
    paper: bool

    @property
    def slot_label(self) -> str:
        return S.SLOT_LABELS[self.cell.slot]

    @property
    def period_label(self) -> str:
        return period_label(self.section)


def _subjects(org: Organization, year: int, kind: str, ids: list[int], today) -> list:
    """The subjects among `ids` that the grid of `org` lists (others are not this page's)."""
    if kind == LedgerKind.MEMBER:
        return list(grid_members(org=org, year=year, today=today).filter(pk__in=ids))
    wanted = set(ids)
    return [child for child in selectors.kept_orgs(org=org) if child.pk in wanted]


def _sign_lines(user, org, year, kind, cells: list[Cell], today) -> list[SignLine]:
    """The ticked cells, with the ledgers they are in, in the grid's order. A cell naming a
    subject outside this grid is dropped."""
    subjects = _subjects(org, year, kind, sorted({c.pk for c in cells}), today)
    assemble = member_ledgers if kind == LedgerKind.MEMBER else org_ledgers
    found = {}
    if subjects:
        arg = "members" if kind == LedgerKind.MEMBER else "orgs"
        found = {v.subject.pk: v for v in assemble(year=year, today=today, **{arg: subjects})}
    lines = []
    for cell in cells:
        view = found.get(cell.pk)
        if view is None:
            continue
        section = view.section(cell.section)
        paper = cell.slot == S.MEMBER_SELF and not org_access.is_own_record(user, view.member)
        lines.append(SignLine(view, section, cell, paper))
    order = {spec.key: n for n, spec in enumerate(S.sections_of(kind))}
    names = {s.pk: n for n, s in enumerate(subjects)}
    return sorted(lines, key=lambda line: (names[line.cell.pk], order[line.cell.section]))


def _all_cells(user, org, year, kind, today, number) -> list[Cell]:
    """ "全选可签": every box of the grid's page `number` that the user signs themselves."""
    _, rows = _grid_page(user, org, year, kind, today, number)
    return [
        Cell(row.view.subject.pk, cell.section.key, cell.choice.slot)
        for row in rows
        for cell in row.cells
        if cell.choice and not cell.choice.paper
    ]


def _sign_many(request, pk, year, *, kind: str):
    """The grid's sign-off: the boxes ticked (or all the user may sign on the page) are listed
    on a confirmation page; confirmed, they are signed together, all or none."""
    org = _grid_org(request.user, pk, year, kind=kind)
    if access.leading_role_at(request.user, org) is None:
        raise PermissionDenied(f"只有{org.name}的书记或副书记可以在此签字。")
    today = timezone.localdate()
    route = "ledgers:branch" if kind == LedgerKind.MEMBER else "ledgers:children"
    back = reverse(route, args=[org.pk, year])
    if request.POST.get("page", "").isdigit():
        back += f"?page={request.POST['page']}"
    form = SignManyForm(request.POST, kind=kind)
    if not form.is_valid():
        messages.error(request, first_error(form))
        return redirect(back)
    if form.cleaned_data["all"]:
        # the boxes are those of the page the button was on, as they stand now
        cells = _all_cells(request.user, org, year, kind, today, request.POST.get("page"))
    else:
        cells = form.cleaned_data["cells"]
    lines = _sign_lines(request.user, org, year, kind, cells, today)
    if not lines:
        messages.error(request, "请先勾选要签字的栏目。")
        return redirect(back)
    paper = [line for line in lines if line.paper]
    own = [line for line in lines if not line.paper]
    if form.cleaned_data["confirm"]:
        paper_on = form.cleaned_data["paper_on"]
        if paper and paper_on is None:
            form.add_error("paper_on", "请填写党员在纸质写实簿上签字的日期。")
        else:
            try:
                count = _sign_lines_now(request.user, year, own=own, paper=paper, paper_on=paper_on)
            except ValidationError as error:
                if hasattr(error, "error_dict") and "paper_on" in error.error_dict:
                    apply_errors(form, error)
                else:
                    show_refusal(request, error, prefix="未签任何栏目：")
                    return redirect(back)
            else:
                messages.success(request, f"已签字 {count} 栏。")
                return redirect(back)
    return render(
        request,
        "ledgers/ledger_sign_many.html",
        {
            "org": org,
            "year": year,
            "kind": kind,
            "form": form,
            "own": own,
            "paper": paper,
            "lines": lines,
            "back": back,
            "page_number": request.POST.get("page", ""),
            "route": route,
        },
    )


def _sign_lines_now(user, year, *, own, paper, paper_on) -> int:
    """The members' paper signatures first (they are the lower slot), then the user's own; one
    transaction, so a refusal of any signs none."""

    def items(lines):
        return [
            services.SignItem(line.view.subject, line.cell.section, line.cell.slot)
            for line in lines
        ]

    with transaction.atomic():
        done = []
        if paper:
            done += services.ledger_sign_many(
                by=user, year=year, items=items(paper), paper_on=paper_on
            )
        if own:
            done += services.ledger_sign_many(by=user, year=year, items=items(own))
    return len(done)


@require_POST
def branch_sign(request, pk, year):
    return _sign_many(request, pk, year, kind=LedgerKind.MEMBER)


@require_POST
def children_sign(request, pk, year):
    return _sign_many(request, pk, year, kind=LedgerKind.ORG)


@require_POST
def open_year(request, pk, year):
    """建立本年度写实簿: the ledgers the organisation keeps for `year`, all at once."""
    org = org_access.get_org_for_user(request.user, pk, Action.EXPORT)
    year_or_404(year)
    if not (keeps_members(org) or keeps_orgs(org)):
        raise Http404("该党组织不保管写实簿。")
    if access.leading_role_at(request.user, org) is None:
        raise PermissionDenied(f"只有{org.name}的书记或副书记可以建立写实簿。")
    try:
        made = services.ledgers_open(by=request.user, org=org, year=year)
    except ValidationError as error:
        show_refusal(request, error)
    else:
        messages.success(request, f"已建立 {made} 本写实簿。" if made else "本年度写实簿均已建立。")
    if request.POST.get("next") == "children" and keeps_orgs(org):
        return redirect("ledgers:children", pk=org.pk, year=year)
    if keeps_members(org):
        return redirect("ledgers:branch", pk=org.pk, year=year)
    return redirect("ledgers:children", pk=org.pk, year=year)


# ---------------------------------------------------------------- one ledger


@dataclass
class SlotLine:
    slot: str
    label: str
    signature: Signature | None
    choice: Choice | None
    sign_url: str
    withdraw_url: str


@dataclass
class Block:
    """One section as the ledger page draws it."""

    section: SectionView
    template: str  # the partial that draws its content
    period_label: str  # 第一季度, 上半年; "" for the sections of the whole year
    lines: list[SlotLine]
    grades: list[tuple[str, int]]  # the 评议 counts by grade, for the 年度写实
    note_links: list[tuple[str, str]]  # (what, url) of the text the user may write now
    draft: LedgerNote | None  # the 简要总结's draft, shown until the section is signed
    opens_after: datetime.date | None  # a section whose period has not ended: signed after


@dataclass
class Subject:
    """What the ledger routes of one kind share: the getter and the names of the routes."""

    kind: str
    prefix: str  # "member" or "org": ledgers:<prefix>, :<prefix>_sign, :<prefix>_note
    history: str  # the history page's route

    def get(self, user, pk, year: int):
        """The member (organisation) whose ledger of `year` the user may read, else 404: a
        branch reads the ledger of a member who has left it, for the quarters it signs."""
        year_or_404(year)
        if self.kind == LedgerKind.MEMBER:
            return access.get_member_for_ledger(user, pk, year=year)
        return access.get_org_for_ledger(user, pk)

    def url(self, name: str, *args) -> str:
        return reverse(f"ledgers:{self.prefix}{name}", args=list(args))


MEMBER = Subject(LedgerKind.MEMBER, "member", "ledgers:history")
ORG = Subject(LedgerKind.ORG, "org", "ledgers:org_history")


def _blocks(user, view: LedgerView, subject: Subject) -> list[Block]:
    pk, year = view.subject.pk, view.year
    blocks = []
    for section in view.sections:
        choice = sign_choice(user, view, section)
        lines = []
        for slot, label, signature in section.slots():
            may_withdraw = (
                signature is not None and access.withdraw_refusal(user, signature) is None
            )
            lines.append(
                SlotLine(
                    slot=slot,
                    label=label,
                    signature=signature,
                    choice=choice if choice and choice.slot == slot else None,
                    sign_url=subject.url("_sign", pk, year, section.key, slot)
                    if choice and choice.slot == slot
                    else "",
                    withdraw_url=reverse("ledgers:withdraw", args=[signature.pk])
                    if may_withdraw
                    else "",
                )
            )
        note_links = [
            (_note_link_text(section, kind), subject.url("_note", pk, year, section.key, kind))
            for kind in _note_kinds(section)
            if access.note_refusal(user, view, section, kind) is None
        ]
        blocks.append(
            Block(
                section=section,
                template=f"ledgers/_part_{section.spec.builds_from}.html",
                period_label=period_label(section),
                lines=lines,
                grades=grades_of(view, section.content),
                note_links=note_links,
                draft=section.notes.get(NoteKind.DRAFT)
                if section.spec.builds_from == S.YEAR_END and not section.is_frozen
                else None,
                opens_after=section.due_after if section.state == NOT_DUE else None,
            )
        )
    return blocks


def period_label(section: SectionView) -> str:
    """The period a section's heading leaves out: 第一季度 before a 领导点评 (the report's heading
    names its own period); "" otherwise."""
    return section.period.short_label if section.spec.is_review else ""


def grades_of(view: LedgerView, content: dict) -> list[tuple[str, int]]:
    """The 评议 counts of a 年度写实 by grade, on the scale of the ledger's kind: members are
    graded 好/较好/一般/差 (§三.2), organisations 满意/比较满意/一般/不满意."""
    counts = (content.get("appraisal") or {}).get("counts")
    if not counts:
        return []
    scale = S.MEMBER_SCALE if view.is_member else S.ORG_SCALE
    return list(zip(scale, counts, strict=False))


def _note_link_text(section: SectionView, kind: str) -> str:
    written = kind in section.notes
    if kind == NoteKind.SUMMARY:
        return "修改简要总结" if written else "填写简要总结"
    if kind == NoteKind.DRAFT:
        return "修改初稿" if written else "提交简要总结初稿"
    if kind == NoteKind.MISSING:
        return "修改缺记录说明" if written else "填写缺记录说明"
    return "修改另附页" if written else "另附页"


def _note_kinds(section: SectionView) -> list[str]:
    """The text that may be written on `section` now: none once it is signed."""
    if section.is_frozen:
        return []
    kinds = []
    if section.spec.builds_from == S.YEAR_END:
        kinds += [NoteKind.SUMMARY, NoteKind.DRAFT]
    if section.missing:
        kinds.append(NoteKind.MISSING)
    kinds.append(NoteKind.SUPPLEMENT)
    return kinds


def _ledger_page(request, pk, year, subject: Subject):
    found = subject.get(request.user, pk, year)
    today = timezone.localdate()
    view = services.assemble(subject=found, year=year, today=today)
    return render(
        request,
        "ledgers/ledger_detail.html",
        {
            "view": view,
            "subject": found,
            "blocks": _blocks(request.user, view, subject),
            "years": _years(year, today),
            "route": f"ledgers:{subject.prefix}",
            "history_url": reverse(subject.history, args=[found.pk, year]),
            "pdf_url": reverse(f"ledgers:{subject.prefix}_pdf", args=[found.pk, year]),
            "grid_route": "ledgers:branch" if view.is_member else "ledgers:children",
        },
    )


@require_GET
def member(request, pk, year):
    """A member's ledger of `year`: the header, each section with its content, what is missing
    and who owes it, the signatures, and the steps the reader may take."""
    return _ledger_page(request, pk, year, MEMBER)


@require_GET
def org(request, pk, year):
    """An organisation's ledger of `year`, as the member's."""
    return _ledger_page(request, pk, year, ORG)


# ---------------------------------------------------------------- one signature


def _section_of(view: LedgerView, key: str) -> SectionView:
    try:
        return view.section(key)
    except KeyError:
        raise Http404("没有这个栏目。") from None


def _sign(request, pk, year, section_key, slot, subject: Subject):
    """Sign one slot: the page shows what is signed, then the signature is made."""
    found = subject.get(request.user, pk, year)
    view = services.assemble(subject=found, year=year, today=timezone.localdate())
    section = _section_of(view, section_key)
    if slot not in section.spec.slots:
        raise Http404("没有这一签字栏。")
    back = subject.url("", found.pk, year) + f"#{section.key}"
    paper = (
        view.is_member
        and slot == S.MEMBER_SELF
        and not org_access.is_own_record(request.user, view.member)
    )
    if access.slot_org(view, section, slot) is None:
        messages.error(request, "该党员在本期末不在任何党支部，此栏无人签字。")
        return redirect(back)
    refusal = access.sign_refusal(request.user, view, section, slot, paper=paper)
    if refusal:
        raise PermissionDenied(refusal)
    form = SignForm(request.POST or None, paper=paper, initial={"shown": section.shown_hash})
    if request.method == "POST" and form.is_valid():
        try:
            services.ledger_sign(
                by=request.user,
                subject=found,
                year=year,
                section=section.key,
                slot=slot,
                paper_on=form.cleaned_data.get("paper_on"),
                shown=form.cleaned_data.get("shown") or "",
            )
        except ValidationError as error:
            if hasattr(error, "error_dict") and "paper_on" in error.error_dict:
                apply_errors(form, error)
            else:
                show_refusal(request, error)
                return redirect(back)
        else:
            messages.success(request, f"已签字：{section.spec.heading}（{S.SLOT_LABELS[slot]}）。")
            return redirect(back)
    choice = sign_choice(request.user, view, section)
    return render(
        request,
        "ledgers/ledger_sign.html",
        {
            "view": view,
            "section": section,
            "slot_label": S.SLOT_LABELS[slot],
            "period_label": period_label(section),
            "next_label": S.SLOT_LABELS.get(section.next_slot, ""),
            "paper": paper,
            "ready": choice is not None and choice.slot == slot,
            "form": form,
            "back": back,
            "part": f"ledgers/_part_{section.spec.builds_from}.html",
            "content": section.content,
            "grades": grades_of(view, section.content),
        },
    )


@require_http_methods(["GET", "POST"])
def member_sign(request, pk, year, section, slot):
    return _sign(request, pk, year, section, slot, MEMBER)


@require_http_methods(["GET", "POST"])
def org_sign(request, pk, year, section, slot):
    return _sign(request, pk, year, section, slot, ORG)


def _signature_for(user, pk) -> Signature:
    """The signature `pk` on a ledger the user may read, else 404."""
    signature = (
        Signature.objects.select_related(
            "ledger",
            "ledger__member",
            "ledger__member__org",
            "ledger__subject_org",
            "ledger__keeper",
            "org",
        )
        .filter(pk=org_access.object_id(pk))
        .first()
    )
    if signature is not None:
        ledger = signature.ledger
        if ledger.kind == LedgerKind.MEMBER:
            readable = access.can_view_member_ledger(user, ledger.member, ledger.keeper)
        else:
            readable = access.can_view_org_ledger(user, ledger.subject_org)
        # a branch reads what was signed for it, also after the member has moved on
        if readable or org_access.can(user, Action.EXPORT, signature.org):
            return signature
    raise Http404("没有找到该签字。")


@require_http_methods(["GET", "POST"])
def withdraw(request, pk):
    """Withdraw a signature with a reason: the signer, or the secretary above."""
    signature = _signature_for(request.user, pk)
    ledger = signature.ledger
    subject = MEMBER if ledger.kind == LedgerKind.MEMBER else ORG
    subject_pk = ledger.member_id if ledger.kind == LedgerKind.MEMBER else ledger.subject_org_id
    back = subject.url("", subject_pk, ledger.year) + f"#{signature.section}"
    if signature.withdrawn_at is not None:
        messages.error(request, "该签字已经撤回。")
        return redirect(back)
    refusal = access.withdraw_refusal(request.user, signature)
    if refusal:
        raise PermissionDenied(refusal)
    form = WithdrawForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            gone = services.signature_withdraw(
                by=request.user, signature=signature, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"已撤回 {len(gone)} 个签字，理由已记入历史记录。")
            return redirect(back)
    spec = S.section_spec(ledger.kind, signature.section)
    later = spec.slots[spec.slots.index(signature.slot) + 1 :]
    return render(
        request,
        "ledgers/signature_withdraw.html",
        {
            "signature": signature,
            "ledger": ledger,
            "spec": spec,
            "slot_label": S.SLOT_LABELS[signature.slot],
            "period_label": ""
            if spec.period_kind == YEAR
            else spec.period(ledger.year).short_label,
            "later": [S.SLOT_LABELS[slot] for slot in later],
            "form": form,
            "back": back,
        },
    )


# ---------------------------------------------------------------- the text people add


def _note(request, pk, year, section_key, kind, subject: Subject):
    found = subject.get(request.user, pk, year)
    if kind not in NoteKind.values:
        raise Http404("没有这类填写内容。")
    view = services.assemble(subject=found, year=year, today=timezone.localdate())
    section = _section_of(view, section_key)
    if kind in (NoteKind.SUMMARY, NoteKind.DRAFT) and section.spec.builds_from != S.YEAR_END:
        raise Http404("简要总结只在“年度写实”中填写。")
    refusal = access.note_refusal(request.user, view, section, kind)
    if refusal:
        raise PermissionDenied(refusal)
    back = subject.url("", found.pk, year) + f"#{section.key}"
    note = section.notes.get(kind)
    draft = section.notes.get(NoteKind.DRAFT)
    initial = note.text if note else ""
    if kind == NoteKind.SUMMARY and note is None and draft is not None:
        initial = draft.text  # the keeper starts from the draft
    form = NoteForm(request.POST or None, initial={"text": initial})
    if request.method == "POST" and form.is_valid() and not form.cleaned_data["text"] and not note:
        messages.info(request, "内容为空，没有保存。")
        return redirect(back)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.ledger_note_save(
                by=request.user,
                subject=found,
                year=year,
                section=section.key,
                kind=kind,
                text=form.cleaned_data["text"],
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            title = NOTE_TITLES[kind]
            messages.success(request, f"已保存{title}。" if saved else f"已删除{title}。")
            return redirect(back)
    return render(
        request,
        "ledgers/ledger_note.html",
        {
            "view": view,
            "section": section,
            "kind": kind,
            "title": NOTE_TITLES[kind],
            "period_label": period_label(section),
            "missing": section.missing if kind == NoteKind.MISSING else [],
            "note": note,
            "draft": draft if kind == NoteKind.SUMMARY else None,
            "form": form,
            "back": back,
        },
    )


@require_http_methods(["GET", "POST"])
def member_note(request, pk, year, section, kind):
    return _note(request, pk, year, section, kind, MEMBER)


@require_http_methods(["GET", "POST"])
def org_note(request, pk, year, section, kind):
    return _note(request, pk, year, section, kind, ORG)


# ---------------------------------------------------------------- history


def _ledger_row(found, year: int, kind: str) -> Ledger | None:
    """The ledger row of a subject and year, or None when it was never opened."""
    lookup = {"member": found} if kind == LedgerKind.MEMBER else {"subject_org": found}
    return Ledger.objects.filter(kind=kind, year=year, **lookup).first()


def section_name(kind: str, key: str) -> str:
    """How the history names a section: 承诺写实, 第一季度兑现, 上半年点评, 年度写实."""
    try:
        spec = S.section_spec(kind, key)
    except KeyError:
        return key
    return spec.short_label if spec.builds_from in (S.FULFILMENT, S.REVIEW) else spec.group


@dataclass
class EventRow:
    event: LedgerEvent
    section: str


@dataclass
class SignatureRow:
    signature: Signature
    section: str
    slot: str


def _history(request, pk, year, subject: Subject):
    found = subject.get(request.user, pk, year)
    ledger = _ledger_row(found, year, subject.kind)
    page = page_of(request, selectors.ledger_history(ledger=ledger))
    return render(
        request,
        "ledgers/ledger_history.html",
        {
            "subject": found,
            "year": year,
            "route": f"ledgers:{subject.prefix}",
            "ledger": ledger,
            "page": page,
            "events": [EventRow(e, section_name(subject.kind, e.section)) for e in page],
            "signatures": [
                SignatureRow(s, section_name(subject.kind, s.section), S.SLOT_LABELS[s.slot])
                for s in selectors.ledger_signatures(ledger=ledger)
            ],
        },
    )


@require_GET
def history(request, pk, year):
    """Every event of a member's ledger — signatures, paper records, withdrawals with their
    reasons, notes — and all its signatures, withdrawn ones too."""
    return _history(request, pk, year, MEMBER)


@require_GET
def org_history(request, pk, year):
    return _history(request, pk, year, ORG)
