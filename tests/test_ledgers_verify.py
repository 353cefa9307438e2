"""`manage.py ledger_verify`: every signed snapshot's SHA-256 and each ledger's chain recomputed;
a clean database passes (exit 0), a forged snapshot, a forged hash or a reordered chain is named
with its ledger (exit 1); one ledger or one subtree is checked alone; the ledgers are read in
chunks with their signatures, not one query per ledger.

The scene is tests/ledger_world.py (the year 2025, signed in January 2026). A forgery goes behind
the services and past the trigger that refuses it: on SQLite the trigger is dropped inside the
test's transaction (the rollback puts it back), on PostgreSQL triggers are off for the
transaction (SET LOCAL, undone by the rollback)."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from ledgers import chain, services
from ledgers import sections as S
from ledgers.models import Ledger, Signature
from tests.ledger_world import TODAY, YEAR, build_ledger_world

GUARDS = ("ledgers_signature_upd", "ledgers_signature_withdrawn_upd")


@pytest.fixture
def lw(personas):
    """The world with signatures: m1b's 承诺写实 (both slots) and first quarter, B1's own slot of
    its 承诺写实, one withdrawn and signed again; T2's ledgers (B3's) opened, unsigned."""
    p = build_ledger_world(personas)
    own, me = p.user("own_branch_secretary"), p.user("member_self")
    m1b, b1 = p.members["m1b"], p.orgs["B1"]
    sign(me, m1b, "pledge", S.MEMBER_SELF)
    sign(own, m1b, "pledge", S.BRANCH)
    first = sign(me, m1b, "q1", S.MEMBER_SELF)
    services.signature_withdraw(by=me, signature=first, reason="报告内容核对后重签")
    sign(me, m1b, "q1", S.MEMBER_SELF)
    sign(own, b1, "pledge", S.ORG_SELF)
    services.ledgers_open(by=p.user("unrelated_committee_secretary"), org=p.orgs["T2"], year=YEAR)
    return p


def sign(by, subject, section: str, slot: str):
    return services.ledger_sign(
        by=by, subject=subject, year=YEAR, section=section, slot=slot, today=TODAY
    )


def verify(*args) -> str:
    out = io.StringIO()
    call_command("ledger_verify", *args, stdout=out)
    return out.getvalue()


def refused(*args) -> tuple[str, CommandError]:
    out = io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command("ledger_verify", *args, stdout=out)
    return out.getvalue(), info.value


def forge(signature: Signature, **changes) -> None:
    """Change a stored signature behind the services' back."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for name in GUARDS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        else:
            cursor.execute("SET LOCAL session_replication_role = replica")
        Signature.objects.filter(pk=signature.pk).update(**changes)
        if connection.vendor != "sqlite":
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")


def member_ledger(lw, name: str = "m1b") -> Ledger:
    return Ledger.objects.get(member=lw.members[name], year=YEAR)


def summary(ledgers: int, signatures: int, broken: int) -> str:
    return f"检查写实簿{ledgers}本，签字{signatures}次，不一致{broken}本"


def test_a_clean_database_passes_with_every_signature_counted(lw):
    out = verify()
    # withdrawn signatures stay in the chain and are checked too
    assert Signature.objects.filter(withdrawn_at__isnull=False).count() == 1
    assert summary(Ledger.objects.count(), Signature.objects.count(), 0) in out
    assert Ledger.objects.count() >= 3 and Signature.objects.count() == 5


def test_a_forged_snapshot_is_named_with_its_ledger_and_exits_1(lw):
    ledger = member_ledger(lw)
    signature = Signature.objects.get(ledger=ledger, section="pledge", slot=S.BRANCH)
    forged = signature.payload.replace("带头参加志愿服务", "带头参加志愿服务两次")
    assert forged != signature.payload
    forge(signature, payload=forged)
    out, error = refused()
    assert error.returncode == 1
    assert str(ledger.pk) in str(error)
    assert f"写实簿{ledger.pk}（李二 {YEAR}年度写实簿）签字不一致" in out
    assert f"第{signature.seq}次签字" in out and "内容已被改动" in out
    assert summary(Ledger.objects.count(), Signature.objects.count(), 1) in out


def test_a_forged_snapshot_with_its_hash_recomputed_breaks_the_chain(lw):
    ledger = member_ledger(lw)
    signature = Signature.objects.get(ledger=ledger, section="pledge", slot=S.MEMBER_SELF)
    forged = signature.payload.replace("带头参加志愿服务", "从未承诺的事项")
    forge(signature, payload=forged, content_hash=chain.sha256(forged))
    out, error = refused()
    assert "签字链摘要不符" in out
    assert "内容已被改动" not in out
    assert f"写实簿{ledger.pk}" in out


def test_a_reordered_chain_is_found(lw):
    ledger = member_ledger(lw)
    first, second = Signature.objects.filter(ledger=ledger).order_by("seq")[:2]
    forge(first, seq=99)
    forge(second, seq=first.seq)
    forge(Signature.objects.get(pk=first.pk), seq=second.seq)
    out, _ = refused()
    assert f"写实簿{ledger.pk}" in out
    assert "与上一次签字的链接不符" in out


def test_a_subtree_is_checked_alone(lw):
    o = lw.orgs
    forge(Signature.objects.filter(ledger=member_ledger(lw)).first(), payload="{}")
    # T2 keeps B3's ledger (opened, unsigned); nothing forged there
    kept = Ledger.objects.filter(o["T2"].subtree_q("keeper__"))
    assert kept.exists()
    out = verify("--org", o["T2"].code)
    assert summary(kept.count(), 0, 0) in out
    # by id, and the forged ledger's branch
    out, _ = refused("--org", str(o["B1"].pk))
    kept = Ledger.objects.filter(o["B1"].subtree_q("keeper__"))
    assert summary(kept.count(), Signature.objects.filter(ledger__in=kept).count(), 1) in out


def test_one_ledger_is_checked_alone(lw):
    forge(Signature.objects.filter(ledger=member_ledger(lw)).first(), payload="{}")
    b1 = Ledger.objects.get(subject_org=lw.orgs["B1"], year=YEAR)
    assert summary(1, 1, 0) in verify("--ledger", str(b1.pk))
    out, _ = refused("--ledger", str(member_ledger(lw).pk))
    assert summary(1, 4, 1) in out


def test_an_unknown_ledger_or_organisation_is_refused(lw):
    _, error = refused("--ledger", "987654")
    assert "没有编号为987654的写实簿" in str(error)
    _, error = refused("--org", "无此组织")
    assert "无此组织" in str(error)


def test_ledgers_are_read_in_chunks_not_one_query_each(lw, django_assert_max_num_queries):
    total = Ledger.objects.count()
    assert total >= 3
    # the ledgers with their subjects; their signatures, one query per chunk
    with django_assert_max_num_queries(2):
        out = verify()
    assert summary(total, Signature.objects.count(), 0) in out
    with django_assert_max_num_queries(1 + total):
        out = verify("--chunk", "1")
    assert summary(total, Signature.objects.count(), 0) in out
