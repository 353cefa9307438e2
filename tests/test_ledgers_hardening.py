"""The holes a hostile review found in the 写实簿's signatures, each held: content changed between
the page and the signature, a withdrawal written around the service, forged signature columns,
the header frozen by any first signature, a back-dated transfer, the appraisal's publication."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from ledgers import chain, selectors, services
from ledgers.models import Ledger, Lock, Signature
from orgs import services as org_services
from tests.ledger_world import TODAY, YEAR, build_ledger_world, fulfil


@pytest.fixture
def lw(personas):
    return build_ledger_world(personas)


def sign(by, subject, section, slot, **extra):
    extra.setdefault("today", TODAY)
    return services.ledger_sign(
        by=by, subject=subject, year=YEAR, section=section, slot=slot, **extra
    )


def verdict_of(member):
    ledger = Ledger.objects.get(member=member, year=YEAR)
    return chain.verify(ledger, selectors.ledger_signatures(ledger=ledger))


def test_the_sign_page_refuses_content_changed_since_it_was_shown(lw, client, monkeypatch):
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: TODAY)
    m1b = lw.members["m1b"]
    client.force_login(lw.user("member_self"))
    url = reverse("ledgers:member_sign", args=[m1b.pk, YEAR, "q2", "member"])
    page = client.get(url)
    shown = page.context["form"].initial["shown"]
    assert "第2季度参加志愿服务" in page.content.decode() and shown
    fulfil(lw.user("own_branch_secretary"), lw.extra["own_pledge"], 2, "书记改写的内容")
    client.post(url, {"confirm": "1", "shown": shown})
    assert not Signature.objects.filter(ledger__member=m1b, section="q2").exists()
    # read again, the page shows the new text and signs it
    page = client.get(url)
    assert "书记改写的内容" in page.content.decode()
    client.post(url, {"confirm": "1", "shown": page.context["form"].initial["shown"]})
    signature = Signature.objects.get(ledger__member=m1b, section="q2", slot="member")
    assert "书记改写的内容" in signature.payload


def test_a_withdrawal_written_around_the_service_is_refused(lw):
    m1b = lw.members["m1b"]
    sign(lw.user("member_self"), m1b, "pledge", "member")
    upper = sign(lw.user("own_branch_secretary"), m1b, "pledge", "branch")
    with pytest.raises(IntegrityError), transaction.atomic():
        Signature.objects.filter(pk=upper.pk).update(withdrawn_at=timezone.now())
    assert Signature.objects.get(pk=upper.pk).withdrawn_at is None


def test_verify_finds_an_upper_signature_standing_without_its_lower_one(lw):
    m1b = lw.members["m1b"]
    lower = sign(lw.user("member_self"), m1b, "pledge", "member")
    sign(lw.user("own_branch_secretary"), m1b, "pledge", "branch")
    ledger = Ledger.objects.get(member=m1b, year=YEAR)
    rows = selectors.ledger_signatures(ledger=ledger)
    assert chain.verify(ledger, rows).ok
    for row in rows:
        if row.pk == lower.pk:
            row.withdrawn_at = timezone.now()  # as if forged past the triggers
    assert not chain.verify(ledger, rows).ok


@pytest.mark.parametrize(
    "column, value",
    [("capacity", "上级党组织书记"), ("on_paper", True), ("recorded_by_name", "某人")],
)
def test_verify_finds_a_forged_column_the_print_shows(lw, column, value):
    m1 = lw.members["m1"]
    sign(lw.user("own_branch_secretary"), m1, "q1r", "branch")
    ledger = Ledger.objects.get(member=m1, year=YEAR)
    rows = selectors.ledger_signatures(ledger=ledger)
    assert chain.verify(ledger, rows).ok
    setattr(rows[0], column, value)
    assert not chain.verify(ledger, rows).ok


def test_verify_finds_a_forged_organisation_or_signer(lw):
    m1 = lw.members["m1"]
    sign(lw.user("own_branch_secretary"), m1, "q1r", "branch")
    ledger = Ledger.objects.get(member=m1, year=YEAR)
    rows = selectors.ledger_signatures(ledger=ledger)
    rows[0].org_id = lw.orgs["T1"].pk
    assert not chain.verify(ledger, rows).ok
    rows = selectors.ledger_signatures(ledger=ledger)
    rows[0].signer_id = lw.user("parent_committee_secretary").pk
    assert not chain.verify(ledger, rows).ok


def test_the_header_is_frozen_by_a_quarter_signed_first(lw):
    """Every snapshot carries the header, so the first signature, whichever section, holds the
    header through the ledger's year (the lock's lapse is tested in test_ledgers_locks)."""
    today = datetime.date(YEAR, 5, 1)
    m1b = lw.members["m1b"]
    signature = sign(lw.user("member_self"), m1b, "q1", "member", today=today)
    assert m1b.name in signature.payload
    held = Lock.objects.get(signature=signature, source="member")
    assert held.object_id == m1b.pk and held.until == datetime.date(YEAR, 12, 31)


def test_a_transfer_dated_back_into_a_signed_quarter_is_refused(lw):
    m1 = lw.members["m1"]
    sign(lw.user("own_branch_secretary"), m1, "q1r", "branch")
    parent = lw.user("parent_committee_secretary")
    with pytest.raises(ValidationError) as caught, transaction.atomic():
        org_services.member_transfer(
            by=parent, member=m1, to_org=lw.orgs["B2"], on=datetime.date(YEAR, 2, 1)
        )
    assert "已由" in str(caught.value) and "撤回" in str(caught.value)
    m1.refresh_from_db()
    assert m1.org == lw.orgs["B1"]
    assert verdict_of(m1).ok


def test_the_published_date_of_a_signed_appraisal_is_held(lw):
    m1 = lw.members["m1"]
    own = lw.user("own_branch_secretary")
    services.ledger_note_save(
        by=own, subject=m1, year=YEAR, section="year", kind="summary", text="全年表现良好",
        today=TODAY,
    )  # fmt: skip
    sign(own, m1, "year", "branch")
    appraisal = lw.extra["members_appraisal"]
    with pytest.raises(IntegrityError), transaction.atomic():
        type(appraisal).objects.filter(pk=appraisal.pk).update(
            published_at=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
        )


def test_an_organisation_without_members_or_children_has_an_empty_grid(lw):
    """No members, no children: the grids are empty, not an invalid query."""
    B1 = lw.orgs["B1"]
    assert selectors.children_grid(org=B1, year=YEAR, today=TODAY) == []
    empty = org_services.organization_create(
        by=None, parent=lw.orgs["T1"], name="新建党支部", code="B9", kind="branch", sector="rural"
    )
    assert selectors.branch_grid(org=empty, year=YEAR, today=TODAY) == []
