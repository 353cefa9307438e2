"""The demo's 写实簿 (tests/conftest.py builds the demo once per test database): ledgers in every
state — blank, part-signed, fully signed last year, a signature withdrawn — and all of them pass
`manage.py ledger_verify`."""

from __future__ import annotations

import datetime
import io
import random

import pytest
from django.core.management import call_command
from django.db import DatabaseError, transaction
from django.utils import timezone

from ledgers import demo as ledgers_demo
from ledgers import sections as S
from ledgers.assembly import MISSING, PARTLY, READY, SIGNED, member_ledgers, org_ledgers
from ledgers.demo import WITHDRAW_REASON
from ledgers.demo import seed as demo_seed
from ledgers.models import Ledger, LedgerEvent, LedgerKind, LedgerNote, Lock, NoteKind, Signature
from ledgers.selectors import branch_grid, children_grid, kept_members, kept_orgs
from orgs.models import Member, Organization
from reviews.models import LeaderReview


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


def test_at_province_scale_nothing_is_signed_before_anything_is_due(demo, monkeypatch):
    """Early in a year (the pledge window still open) the province seed opens the demo branch's
    ledgers and those of its share of townships, and signs nothing."""
    monkeypatch.setattr(ledgers_demo, "SHARE", 1.0)
    today = timezone.localdate()
    next_year = datetime.date(today.year + 1, 2, 1)
    before = (Signature.objects.count(), LedgerNote.objects.count())
    made = demo_seed(scale="province", rng=random.Random(7), today=next_year, log=lambda t: None)
    kept = kept_members(org=_branch("zhibu_shuji"), year=next_year.year, today=next_year)
    opened = Ledger.objects.filter(year=next_year.year)
    assert made["ledgers"] == opened.count() > len(kept) > 0
    assert made["ledger_signatures"] == 0
    assert (Signature.objects.count(), LedgerNote.objects.count()) == before
    assert opened.filter(member__in=kept).count() == len(kept)


def _province_share(monkeypatch, today):
    monkeypatch.setattr(ledgers_demo, "SHARE", 1.0)
    before = set(Ledger.objects.values_list("pk", flat=True))
    made = ledgers_demo.seed_province(rng=random.Random(3), today=today, log=lambda t: None)
    return made, Ledger.objects.exclude(pk__in=before)


def _member_views(opened, today) -> list:
    """The member ledgers among `opened`, assembled a branch at a time (as its grid does)."""
    views = []
    for keeper in opened.filter(kind=LedgerKind.MEMBER).values_list("keeper", flat=True).distinct():
        members = Member.objects.filter(pk__in=opened.filter(keeper=keeper).values("member"))
        views += member_ledgers(year=today.year, members=list(members), today=today)
    return views


def test_at_province_scale_a_share_of_townships_is_opened_whole(demo, monkeypatch):
    today = timezone.localdate()
    made, opened = _province_share(monkeypatch, today)
    assert made["ledgers"] == opened.count() > 0
    # every member on a branch's roll and every basic-level organisation below the townships,
    # each with the first line of its history; nothing in the demo logins' county
    county = _town().parent
    assert not opened.filter(county.subtree_q("keeper__")).exists()
    for keeper in Organization.objects.filter(pk__in=opened.values("keeper")):
        if keeper.kind == "branch":
            members = kept_members(org=keeper, year=today.year, today=today)
            assert set(opened.filter(keeper=keeper, kind=LedgerKind.MEMBER).values_list(
                "member", flat=True
            )) == {m.pk for m in members}  # fmt: skip
        assert set(opened.filter(keeper=keeper, kind=LedgerKind.ORG).values_list(
            "subject_org", flat=True
        )) == {o.pk for o in kept_orgs(org=keeper)}  # fmt: skip
    assert LedgerEvent.objects.filter(ledger__in=opened, action="open").count() == opened.count()


def test_at_province_scale_signatures_are_what_the_service_would_write(demo, monkeypatch):
    today = timezone.localdate()
    made, opened = _province_share(monkeypatch, today)
    signatures = Signature.objects.filter(ledger__in=opened)
    assert made["ledger_signatures"] == signatures.count()
    if today <= datetime.date(today.year, 4, 1):
        return  # nothing due yet this year: the test above covers it
    assert signatures.filter(on_paper=True).exists()
    assert signatures.filter(ledger__kind=LedgerKind.ORG, slot=S.UPPER).exists()
    out = io.StringIO()
    call_command("ledger_verify", stdout=out)
    assert "不一致0本" in out.getvalue()
    # each signed section shows its snapshot, which is still what the records say, and the
    # lower slots were signed first; the history has a line for each signature
    views = _member_views(opened, today) + org_ledgers(
        year=today.year,
        orgs=list(
            Organization.objects.filter(pk__in=opened.values("subject_org")).select_related(
                "parent", "secretary"
            )
        ),
        today=today,
    )
    signed = [s for v in views for s in v.sections if s.signatures]
    assert sum(len(s.signatures) for s in signed) == signatures.count()
    for section in signed:
        assert section.content == section.live
        slots = section.spec.slots
        assert list(section.signatures) == list(slots[: len(section.signatures)])
        assert section.state in (SIGNED, PARTLY)
    assert LedgerEvent.objects.filter(ledger__in=opened, action__in=["sign", "paper"]).count() == (
        signatures.count()
    )
    # the records under a signature are held: a change is refused on every path
    lock = Lock.objects.filter(signature__in=signatures, source="review").first()
    assert lock is not None
    with pytest.raises(DatabaseError), transaction.atomic():
        LeaderReview.objects.filter(pk=lock.object_id).update(achievements="改过的成绩")


def test_at_province_scale_sections_the_service_would_refuse_stay_unsigned(demo, monkeypatch):
    """A section with a missing record (no 缺记录说明 is written) and the branch slot of a
    secretary's own ledger are left for people to complete."""
    today = timezone.localdate()
    made, opened = _province_share(monkeypatch, today)
    views = _member_views(opened, today)
    signed = [(v, s) for v in views for s in v.sections if s.signatures]
    assert signed or today <= datetime.date(today.year, 4, 1)
    assert any(s.state == MISSING for v in views for s in v.sections)
    for view, section in signed:
        assert section.is_due and not section.missing and not section.notes
        if section.owner.secretary_id == view.member.pk:
            assert S.BRANCH not in section.signatures
