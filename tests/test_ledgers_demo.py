"""The demo's 写实簿 (tests/conftest.py builds the demo once per test database): ledgers in every
state — blank, part-signed, fully signed last year, a signature withdrawn — and all of them pass
`manage.py ledger_verify`."""

from __future__ import annotations

import datetime
import io
import random

from django.core.management import call_command
from django.utils import timezone

from ledgers import sections as S
from ledgers.assembly import READY, SIGNED
from ledgers.demo import WITHDRAW_REASON
from ledgers.demo import seed as demo_seed
from ledgers.models import Ledger, LedgerEvent, LedgerKind, LedgerNote, NoteKind, Signature
from ledgers.selectors import branch_grid, children_grid, kept_members
from orgs.models import Organization


def _branch(username: str) -> Organization:
    return Organization.objects.get(secretary__user__username=username)


def _town() -> Organization:
    return Organization.objects.get(secretary__user__username="zhen_shuji")


def _grids(today):
    """Every member ledger of the two demo branches and every organisation ledger of the
    township's branches, this year and last."""
    views = []
    for year in (today.year - 1, today.year):
        for username in ("zhibu_shuji", "zhibu2_shuji"):
            views += branch_grid(org=_branch(username), year=year, today=today)
        views += children_grid(org=_town(), year=year, today=today)
    return [v for v in views if v.ledger is not None]


def test_last_years_member_ledgers_of_the_demo_branch_are_fully_signed(demo):
    today = timezone.localdate()
    last = today.year - 1
    views = branch_grid(org=_branch("zhibu_shuji"), year=last, today=today)
    assert len(views) >= 10
    assert all(v.ledger is not None and v.is_complete for v in views)
    # every section a member's quarter fell in is signed in every slot
    signed = [s for v in views for s in v.sections if s.owner is not None]
    assert signed and all(s.state == SIGNED for s in signed)
    assert all(set(s.signatures) == set(s.spec.slots) for s in signed)
    # the keeper wrote the summaries and the reasons for the records the demo lacks
    ledgers = [v.ledger for v in views]
    notes = LedgerNote.objects.filter(ledger__in=ledgers)
    assert notes.filter(kind=NoteKind.SUMMARY).count() == len(ledgers)
    assert notes.filter(kind=NoteKind.MISSING).exists()
    # members with a login signed themselves; the others' paper signatures were recorded
    mine = Signature.objects.filter(ledger__in=ledgers, slot=S.MEMBER_SELF)
    assert mine.filter(on_paper=False, signer__isnull=False).exists()
    paper = mine.filter(on_paper=True)
    assert paper.exists() and not paper.filter(recorded_by__isnull=True).exists()
    assert not paper.filter(ledger__member__user__isnull=False).exists()
    # the deputy signs for the branch on the secretary's own ledger
    secretary = _branch("zhibu_shuji").secretary
    own = Signature.objects.filter(ledger__member=secretary, ledger__year=last, slot=S.BRANCH)
    assert own.exists() and all("代书记签字" in s.capacity for s in own)
    assert not own.filter(signer__username="zhibu_shuji").exists()
    # each signed after its period, not before
    for view in views:
        for section in view.sections:
            for signature in section.signatures.values():
                assert signature.signed_on > section.due_after


def test_the_demo_has_blank_and_part_signed_ledgers(demo):
    today = timezone.localdate()
    views = _grids(today)
    blank = [v for v in views if v.ledger.signature_count == 0]
    partly = [v for v in views if not v.is_complete and any(s.state == SIGNED for s in v.sections)]
    assert any(v.kind == LedgerKind.MEMBER for v in blank)
    assert any(v.kind == LedgerKind.ORG for v in blank)
    assert any(v.kind == LedgerKind.MEMBER for v in partly)
    assert any(v.kind == LedgerKind.ORG for v in partly)
    # the neighbouring branch's ledgers of this year are all opened and blank
    neighbour = branch_grid(org=_branch("zhibu2_shuji"), year=today.year, today=today)
    assert neighbour and all(v.ledger is not None for v in neighbour)
    assert all(v.ledger.signature_count == 0 for v in neighbour)


def test_one_signature_is_withdrawn_with_its_reason_and_the_section_waits_again(demo):
    today = timezone.localdate()
    (withdrawn,) = Signature.objects.filter(withdrawn_at__isnull=False)
    assert withdrawn.withdraw_reason == WITHDRAW_REASON
    assert withdrawn.withdrawn_name
    ledger = withdrawn.ledger
    event = LedgerEvent.objects.get(ledger=ledger, action="withdraw")
    assert WITHDRAW_REASON in event.comment
    view = next(v for v in _grids(today) if v.ledger.pk == ledger.pk)
    assert view.section(withdrawn.section).state == READY


def test_every_demo_ledger_passes_ledger_verify(demo):
    out = io.StringIO()
    call_command("ledger_verify", stdout=out)
    total = Ledger.objects.count()
    signatures = Signature.objects.count()
    assert total and signatures
    assert f"检查写实簿{total}本，签字{signatures}次，不一致0本" in out.getvalue()


def test_at_province_scale_the_demo_only_opens_the_branchs_ledgers(demo):
    """The bench seed stays fast: no signatures, no notes; the ledgers of the demo branch are
    opened (here for the next year, the demo's own being open already)."""
    today = timezone.localdate()
    next_year = datetime.date(today.year + 1, 2, 1)
    before = (Signature.objects.count(), LedgerNote.objects.count())
    made = demo_seed(scale="province", rng=random.Random(7), today=next_year, log=lambda t: None)
    kept = kept_members(org=_branch("zhibu_shuji"), year=next_year.year, today=next_year)
    assert made == {"ledgers": len(kept)} and kept
    assert (Signature.objects.count(), LedgerNote.objects.count()) == before
    assert Ledger.objects.filter(year=next_year.year).count() == len(kept)
