"""The records under a signed 写实簿 section are held on every path: the services refuse on the
form, naming who signed and when; QuerySet.update, bulk_update, save(), raw SQL and DELETE meet
the database triggers (PostgreSQL and SQLite); the admin and the pages answer with the refusal.
A lock ends with its signature's withdrawal, the member header's at the end of the ledger's year.
The signature rows hold themselves: only their withdrawal is written, once.

Run on both databases: the default (SQLite) and `CI=true DATABASE_URL=postgres://… pytest`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from ledgers import locks
from ledgers.models import Ledger, LedgerNote, Lock, Signature
from orgs import services as org_services
from orgs.locks import LOCK_MARKER, is_lock_error, lock_error_text, refuse_if_locked
from orgs.middleware import LedgerLockMiddleware
from orgs.models import Member, OrgKind
from pledges import services as pledge_services
from pledges.models import PLEDGED, Fulfilment, Pledge, PledgeStatus, Progress
from reviews import services as review_services
from reviews.models import Appraisal, AppraisalSubject, Exemption, LeaderReview
from tests.personas import make_member, make_org
from tests.pledge_world import approved_org_pledge

PG = connection.vendor == "postgresql"
pg_only = pytest.mark.skipif(not PG, reason="PostgreSQL only")
sqlite_only = pytest.mark.skipif(PG, reason="SQLite only")

SIGNED_ON = datetime.date(2026, 4, 3)
TAIL = "不能修改或删除。如需修改，请先由签字人或上级党组织书记撤回签字。"


# ---------------------------------------------------------------- the scene


def open_ledger(world, member="m1", year=2026) -> Ledger:
    return Ledger.objects.create(
        kind="member", year=year, member=world.members[member], keeper=world.orgs["B1"]
    )


def sign(ledger, *, section="pledge", slot="branch", signer="王书记", capacity="党支部书记",
         on=SIGNED_ON) -> Signature:  # fmt: skip
    """A live signature, written as the service writes one (the hashes do not matter here)."""
    return Signature.objects.create(
        ledger=ledger, seq=ledger.signatures.count() + 1, section=section, slot=slot,
        org=ledger.keeper, signer_name=signer, capacity=capacity, signed_on=on,
        signed_at=timezone.now(), payload="{}", content_hash="a" * 64, chain_hash="b" * 64,
    )  # fmt: skip


def hold(signature, source, pk, until=None) -> Lock:
    return Lock.objects.create(signature=signature, source=source, object_id=pk, until=until)


def withdraw(signature) -> None:
    """What the withdrawal writes: the withdrawal columns once, which releases the locks."""
    by, _ = get_user_model().objects.get_or_create(username="withdrawer")
    Signature.objects.filter(pk=signature.pk).update(
        withdrawn_at=timezone.now(), withdrawn_by=by, withdrawn_name="王书记",
        withdraw_reason="写错了",
    )  # fmt: skip


@dataclass(frozen=True)
class Case:
    """One source: how to find its row in the world, a held text column with a new value, and a
    column the lock does not hold with a new value."""

    source: str
    model: type
    section: str
    noun: str
    held: tuple[str, object]
    free: tuple[str, object]


CASES = [
    Case("pledge", Pledge, "pledge", "这项承诺", ("content", "改过的承诺"), ("progress", "done")),
    Case("fulfilment", Fulfilment, "q1", "这期承诺兑现情况", ("text", "改过"), ("entered_by", None)),
    Case("review", LeaderReview, "q3r", "这份领导点评", ("achievements", "改过"), ("scope", "全镇")),
    Case("exemption", Exemption, "q2r", "这项免予点评", ("reason", "改过"), ("by", None)),
    Case("subject", AppraisalSubject, "year", "这项民主评议结果", ("final_grade", "fail"),
         ("statement", "补写述职")),
    Case("appraisal", Appraisal, "year", "这次民主评议的计票结果", ("state", "closed"),
         ("place", "新会议室")),
    Case("member", Member, "pledge",
         "该党员的写实簿表头（姓名、性别、民族、出生年月、入党时间、文化程度、现任职务）",
         ("post", "村委会主任"), ("is_retired", True)),
    Case("note", LedgerNote, "q1", "这段写实簿填写内容", ("text", "改过的另附页"), ("by_name", "某人")),
]  # fmt: skip
SECTION_LABELS = {
    "pledge": "公开承诺事项",
    "q1": "第一季度承诺兑现情况",
    "q2r": "第二季度领导点评",
    "q3r": "第三季度领导点评",
    "year": "年度写实",
}


def row_of(world, case: Case, ledger: Ledger):
    p = world.extra
    if case.source == "pledge":
        return p["pm"]
    if case.source == "fulfilment":
        return p["pm"].fulfilments.get()
    if case.source == "review":
        return p["rm"]
    if case.source == "exemption":
        return Exemption.objects.create(
            year=2026, period_kind="Q", period=2, subject_kind="member",
            subject_member=world.members["m1"], org=world.orgs["B1"], reason="外出务工",
        )  # fmt: skip
    if case.source == "subject":
        return p["ap_done"].subjects.order_by("position").first()
    if case.source == "appraisal":
        return p["ap_done"]
    if case.source == "member":
        return Member.objects.get(pk=world.members["m1"].pk)
    return LedgerNote.objects.create(ledger=ledger, section="q1", kind="supplement", text="另附")


@pytest.fixture(params=CASES, ids=[c.source for c in CASES])
def held(request, world):
    """(case, row, signature): the row held by a live signature of m1's 2026 ledger."""
    case = request.param
    ledger = open_ledger(world)
    row = row_of(world, case, ledger)
    signature = sign(ledger, section=case.section)
    until = datetime.date(2999, 12, 31) if case.source == "member" else None
    hold(signature, case.source, row.pk, until=until)
    return case, row, signature


def full_message(case: Case, *, hold_text: str = "") -> str:
    return (
        f"{case.noun}已写入李一 2026年度写实簿的“{SECTION_LABELS[case.section]}”，"
        f"由王书记（党支部书记）于2026年4月3日签字，{hold_text}{TAIL}"
    )


def assert_refused_by_trigger(error: BaseException, case: Case) -> None:
    """PostgreSQL names the signature; SQLite's RAISE takes only a constant, naming the record."""
    assert is_lock_error(error), error
    hold_text = "2999年12月31日前" if case.source == "member" else ""
    expected = (
        full_message(case, hold_text=hold_text)
        if PG
        else f"{case.noun}已写入写实簿并已签字，{TAIL}"
    )
    assert lock_error_text(error) == expected


def refused(callable_, *args, **kwargs) -> IntegrityError:
    """Run a write expected to be refused by a trigger, in a savepoint (PostgreSQL aborts the
    transaction on an error)."""
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        callable_(*args, **kwargs)
    return caught.value


def stored(row, name: str):
    return getattr(type(row).objects.get(pk=row.pk), name)


# ---------------------------------------------------------------- every path, every source


def test_queryset_update_of_a_held_column_is_refused(held):
    case, row, _ = held
    name, value = case.held
    before = stored(row, name)
    error = refused(lambda: case.model.objects.filter(pk=row.pk).update(**{name: value}))
    assert_refused_by_trigger(error, case)
    assert stored(row, name) == before


def test_bulk_update_of_a_held_column_is_refused(held):
    case, row, _ = held
    name, value = case.held
    before = stored(row, name)
    setattr(row, name, value)
    error = refused(case.model.objects.bulk_update, [row], [name])
    assert_refused_by_trigger(error, case)
    assert stored(row, name) == before


def test_save_of_a_changed_held_column_is_refused(held):
    case, row, _ = held
    name, value = case.held
    fresh = case.model.objects.get(pk=row.pk)
    setattr(fresh, name, value)
    assert_refused_by_trigger(refused(fresh.save), case)


def test_raw_sql_update_is_refused(held):
    case, row, _ = held
    name, value = case.held
    table = case.model._meta.db_table
    with connection.cursor() as cursor:
        error = refused(
            cursor.execute, f'UPDATE {table} SET "{name}" = %s WHERE id = %s', [value, row.pk]
        )
    assert_refused_by_trigger(error, case)


def test_delete_is_refused(held):
    case, row, _ = held
    table = case.model._meta.db_table
    with connection.cursor() as cursor:
        error = refused(cursor.execute, f"DELETE FROM {table} WHERE id = %s", [row.pk])
    assert_refused_by_trigger(error, case)
    assert case.model.objects.filter(pk=row.pk).exists()


def test_a_change_of_a_column_the_lock_does_not_hold_passes(held):
    case, row, _ = held
    name, value = case.free
    case.model.objects.filter(pk=row.pk).update(**{name: value})
    assert stored(row, name) == value
    # Django's save() writes every column: the held ones, unchanged, pass
    fresh = case.model.objects.get(pk=row.pk)
    fresh.save()


def test_the_lock_ends_with_the_withdrawal(held):
    case, row, signature = held
    name, value = case.held
    withdraw(signature)
    case.model.objects.filter(pk=row.pk).update(**{name: value})
    assert stored(row, name) == value
    assert refuse_if_locked(case.source, [row.pk]) is None


def test_a_withdrawn_signature_holds_nothing_though_its_lock_rows_stay(held):
    case, row, signature = held
    withdraw(signature)
    assert Lock.objects.filter(signature=signature).exists()
    name, value = case.held
    case.model.objects.filter(pk=row.pk).update(**{name: value})
    assert stored(row, name) == value


def test_the_precheck_names_the_signer_and_the_date(held):
    case, row, _ = held
    with pytest.raises(ValidationError) as caught:
        refuse_if_locked(case.source, [row.pk])
    hold_text = "2999年12月31日前" if case.source == "member" else ""
    assert caught.value.messages == [full_message(case, hold_text=hold_text)]
    assert is_lock_error(caught.value)


def test_a_row_beside_the_held_one_is_free(held):
    case, row, _ = held
    assert refuse_if_locked(case.source, [row.pk + 100000]) is None
    # another source with the same id is not held either
    other = "note" if case.source != "note" else "pledge"
    assert refuse_if_locked(other, [row.pk]) is None


# ---------------------------------------------------------------- the services refuse on the form


@pytest.fixture
def ledger(world):
    return open_ledger(world)


def test_reopening_a_signed_approved_pledge_is_refused(world, ledger):
    pledge = approved_org_pledge(world)
    hold(sign(ledger), "pledge", pledge.pk)
    parent = world.user("parent_committee_secretary")
    with pytest.raises(ValidationError) as caught:
        pledge_services.pledge_reopen(by=parent, pledge=pledge, reason="需要修改")
    assert caught.value.messages == [
        f"这项承诺已写入李一 2026年度写实簿的“公开承诺事项”，由王书记（党支部书记）于2026年4月3日签字，{TAIL}"
    ]
    assert stored(pledge, "status") == PledgeStatus.APPROVED


def test_a_held_pledge_moves_on_among_the_pledged_states_but_not_back(world, ledger):
    pledge = approved_org_pledge(world)
    hold(sign(ledger), "pledge", pledge.pk)
    parent = world.user("parent_committee_secretary")
    pledge_services.pledge_publish(by=parent, pledge=pledge)  # approved → published passes
    assert stored(pledge, "status") == PledgeStatus.PUBLISHED
    refused(lambda: Pledge.objects.filter(pk=pledge.pk).update(status=PledgeStatus.DRAFT))
    assert set(locks.PLEDGED) == {str(s) for s in PLEDGED}


def test_rewriting_a_signed_fulfilment_report_is_refused(world, ledger):
    pm, own = world.extra["pm"], world.user("own_branch_secretary")
    fulfilment = pm.fulfilments.get()
    hold(sign(ledger, section="q1", slot="member", signer="李一", capacity="党员本人"),
         "fulfilment", fulfilment.pk)  # fmt: skip
    report = {"pledge": pm, "year": 2026, "period": 1, "today": datetime.date(2026, 3, 1)}
    with pytest.raises(ValidationError) as caught:
        pledge_services.fulfilment_record(
            by=own, text="改写的兑现情况", status=Progress.IN_PROGRESS, **report
        )
    assert caught.value.messages == [
        "这期承诺兑现情况已写入李一 2026年度写实簿的“第一季度承诺兑现情况”，"
        f"由李一（党员本人）于2026年4月3日签字，{TAIL}"
    ]
    assert stored(fulfilment, "text") == "走访3户"
    # the same report again (an attachment added, say) changes nothing held and passes
    pledge_services.fulfilment_record(by=own, text="走访3户", status=Progress.IN_PROGRESS, **report)


def test_correcting_a_signed_review_under_a_signature_is_refused(world, ledger):
    rm, own = world.extra["rm"], world.user("own_branch_secretary")
    correction = review_services.review_correct(by=own, review=rm)  # begun before the signature
    hold(sign(ledger, section="q3r"), "review", rm.pk)
    expected = [
        f"这份领导点评已写入李一 2026年度写实簿的“第三季度领导点评”，由王书记（党支部书记）于2026年4月3日签字，{TAIL}"
    ]
    with pytest.raises(ValidationError) as caught:
        review_services.review_sign(by=own, review=correction)
    assert caught.value.messages == expected
    assert stored(rm, "status") == "signed"
    assert stored(correction, "status") == "draft"


def test_starting_a_correction_under_a_signature_is_refused(world, ledger):
    rm, own = world.extra["rm"], world.user("own_branch_secretary")
    hold(sign(ledger, section="q3r"), "review", rm.pk)
    with pytest.raises(ValidationError, match="第三季度领导点评"):
        review_services.review_correct(by=own, review=rm)
    assert not LeaderReview.objects.filter(previous=rm).exists()


def test_editing_the_member_header_under_a_signature_is_refused(world, ledger):
    member, own = world.members["m1"], world.user("own_branch_secretary")
    hold(sign(ledger), "member", member.pk, until=datetime.date(2999, 12, 31))
    with pytest.raises(ValidationError, match="王书记（党支部书记）于2026年4月3日签字"):
        org_services.member_update(by=own, member=member, post="村委会主任")
    assert stored(member, "post") == ""
    # the flags are not on the form's header: they still change
    org_services.member_update(by=own, member=member, is_elderly_infirm=True)
    assert stored(member, "is_elderly_infirm") is True


def test_a_precheck_of_fields_the_lock_does_not_hold_reads_nothing(
    world, ledger, django_assert_num_queries
):
    member = world.members["m1"]
    hold(sign(ledger), "member", member.pk, until=datetime.date(2999, 12, 31))
    with django_assert_num_queries(0):
        refuse_if_locked("member", [member.pk], fields=["category", "is_retired"])
    with django_assert_num_queries(1), pytest.raises(ValidationError):
        refuse_if_locked("member", [member.pk], fields=["category", "birth_date"])


# ---------------------------------------------------------------- the member header's year


def test_the_member_header_lock_holds_through_its_last_day(world, ledger):
    member = world.members["m1"]
    hold(sign(ledger), "member", member.pk, until=timezone.localdate())
    refused(lambda: Member.objects.filter(pk=member.pk).update(post="村委会主任"))
    with pytest.raises(ValidationError, match="前不能修改或删除"):
        refuse_if_locked("member", [member.pk])


def test_the_member_header_lock_lapses_after_its_last_day(world, ledger):
    member = world.members["m1"]
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    hold(sign(ledger), "member", member.pk, until=yesterday)
    Member.objects.filter(pk=member.pk).update(post="村委会主任")
    assert stored(member, "post") == "村委会主任"
    assert refuse_if_locked("member", [member.pk]) is None


# ---------------------------------------------------------------- the signature rows


@pytest.fixture
def signature(world, ledger):
    signature = sign(ledger)
    hold(signature, "pledge", world.extra["pm"].pk)
    return signature


def test_a_signature_cannot_be_changed_by_update_save_bulk_update_or_sql(signature):
    by_update = refused(
        lambda: Signature.objects.filter(pk=signature.pk).update(signer_name="别人")
    )
    assert lock_error_text(by_update) == locks.SIGNATURE_CHANGED
    signature.signed_on = datetime.date(2026, 4, 1)
    assert is_lock_error(refused(signature.save))
    assert is_lock_error(refused(Signature.objects.bulk_update, [signature], ["signed_on"]))
    with connection.cursor() as cursor:
        error = refused(
            cursor.execute,
            "UPDATE ledgers_signature SET payload = %s WHERE id = %s",
            ['{"forged": true}', signature.pk],
        )
    assert lock_error_text(error) == locks.SIGNATURE_CHANGED
    assert Signature.objects.get(pk=signature.pk).payload == "{}"


def test_saving_a_signature_unchanged_passes(signature):
    Signature.objects.get(pk=signature.pk).save()


def test_a_withdrawal_names_who_and_why(signature):
    for missing in ({"withdrawn_by": None}, {"withdrawn_name": ""}, {"withdraw_reason": ""}):
        by, _ = get_user_model().objects.get_or_create(username="withdrawer")
        columns = {"withdrawn_by": by, "withdrawn_name": "王书记", "withdraw_reason": "写错了"}
        error = refused(
            lambda columns=columns | missing: Signature.objects.filter(pk=signature.pk).update(
                withdrawn_at=timezone.now(), **columns
            )
        )
        assert lock_error_text(error) == locks.SIGNATURE_CHANGED
    assert Signature.objects.get(pk=signature.pk).withdrawn_at is None


def test_the_withdrawal_is_written_once(signature):
    now = timezone.now()
    by, _ = get_user_model().objects.get_or_create(username="withdrawer")
    Signature.objects.filter(pk=signature.pk).update(
        withdrawn_at=now, withdrawn_by=by, withdrawn_name="王书记", withdraw_reason="写错了"
    )
    again = refused(
        lambda: Signature.objects.filter(pk=signature.pk).update(withdraw_reason="换个理由")
    )
    assert lock_error_text(again) == locks.SIGNATURE_WITHDRAWN
    refused(lambda: Signature.objects.filter(pk=signature.pk).update(withdrawn_at=None))
    row = Signature.objects.get(pk=signature.pk)
    assert (row.withdrawn_at, row.withdraw_reason) == (now, "写错了")


def test_the_withdrawal_columns_change_only_with_the_withdrawal(signature):
    error = refused(
        lambda: Signature.objects.filter(pk=signature.pk).update(withdraw_reason="先写个理由")
    )
    assert lock_error_text(error) == locks.SIGNATURE_CHANGED


def test_a_signature_cannot_be_deleted(signature):
    error = refused(Signature.objects.filter(pk=signature.pk).delete)
    # Django deletes the cascade first: the lock rows' trigger may be the one that refuses
    assert lock_error_text(error) in (locks.SIGNATURE_DELETED, locks.LOCK_DELETED)
    assert Lock.objects.filter(signature=signature).exists()  # the cascade was rolled back


@pg_only
def test_on_postgresql_a_signature_outlives_its_ledger_row(signature):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM ledgers_ledger WHERE id = %s", [signature.ledger_id])
        error = refused(
            cursor.execute, "DELETE FROM ledgers_signature WHERE id = %s", [signature.pk]
        )
        transaction.set_rollback(True)  # the ledger row back before the foreign keys are checked
    assert lock_error_text(error) == locks.SIGNATURE_DELETED
    assert Ledger.objects.filter(pk=signature.ledger_id).exists()


@sqlite_only
def test_on_sqlite_a_signature_goes_once_its_ledger_has_gone(signature):
    """What SQLite's flush needs: it deletes table by table."""
    with connection.cursor() as cursor:
        refused(cursor.execute, "DELETE FROM ledgers_signature WHERE id = %s", [signature.pk])
        refused(cursor.execute, "DELETE FROM ledgers_lock WHERE signature_id = %s", [signature.pk])
        cursor.execute(
            "DELETE FROM ledgers_ledgerevent WHERE ledger_id = %s", [signature.ledger_id]
        )
        cursor.execute("DELETE FROM ledgers_ledger WHERE id = %s", [signature.ledger_id])
        cursor.execute("DELETE FROM ledgers_signature WHERE id = %s", [signature.pk])
        cursor.execute("DELETE FROM ledgers_lock WHERE signature_id = %s", [signature.pk])
    assert not Signature.objects.filter(pk=signature.pk).exists()


def test_a_lock_row_cannot_be_deleted_while_its_signature_is_live(signature):
    lock = Lock.objects.get(signature=signature)
    error = refused(lambda: Lock.objects.filter(pk=lock.pk).delete())
    assert lock_error_text(error) == locks.LOCK_DELETED
    withdraw(signature)
    Lock.objects.filter(pk=lock.pk).delete()  # withdrawn: the row is only history now
    assert not Lock.objects.filter(pk=lock.pk).exists()


def test_a_lock_row_cannot_be_changed(signature):
    lock = Lock.objects.get(signature=signature)
    error = refused(lambda: Lock.objects.filter(pk=lock.pk).update(object_id=0))
    assert lock_error_text(error) == locks.LOCK_CHANGED
    refused(lambda: Lock.objects.filter(pk=lock.pk).update(until=datetime.date(2000, 1, 1)))


def test_the_admin_cannot_change_a_signature(client, signature):
    model_admin = admin.site._registry.get(Signature)
    if model_admin is None:
        pytest.skip("no admin page for signatures")
    superuser = get_user_model().objects.create_superuser("root", password="pw-123456")
    client.force_login(superuser)
    url = reverse("admin:ledgers_signature_change", args=[signature.pk])
    response = client.post(url, {"signer_name": "别人", "capacity": "党支部书记"})
    assert response.status_code in (403, 409)
    assert Signature.objects.get(pk=signature.pk).signer_name == "王书记"


# ---------------------------------------------------------------- the admin and the pages


@pytest.fixture
def superuser_client(client, world):
    superuser = get_user_model().objects.create_superuser("root", password="pw-123456")
    client.force_login(superuser)
    return client


def test_the_admin_cannot_change_a_held_pledge(superuser_client, world, ledger):
    pm = world.extra["pm"]
    hold(sign(ledger), "pledge", pm.pk)
    url = reverse("admin:pledges_pledge_change", args=[pm.pk])
    response = superuser_client.post(url, {"content": "管理后台改的", "status": "draft"})
    assert response.status_code == 403
    assert stored(pm, "content") == "每月走访困难群众一次"


def _member_admin_form(member: Member, **changes) -> dict:
    data = {
        "name": member.name, "gender": member.gender, "ethnicity": member.ethnicity,
        "birth_date": member.birth_date.isoformat(), "joined_on": member.joined_on.isoformat(),
        "education": member.education, "post": member.post, "category": member.category,
        "org": member.org_id, "user": member.user_id or "",
        "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0",
    }  # fmt: skip
    return data | changes


def _member_page_form(member: Member, **changes) -> dict:
    form = _member_admin_form(member, **changes)
    return form | {"birth_date": member.birth_date.strftime("%Y-%m")} | changes


def test_the_admin_refuses_a_held_member_header_on_its_form(superuser_client, world, ledger):
    member = world.members["m1"]
    hold(sign(ledger), "member", member.pk, until=datetime.date(2999, 12, 31))
    url = reverse("admin:orgs_member_change", args=[member.pk])
    response = superuser_client.post(url, _member_admin_form(member, post="村委会主任"))
    assert response.status_code == 200  # the form again, with the refusal and what was typed
    page = response.content.decode()
    assert "由王书记（党支部书记）于2026年4月3日签字" in page and "村委会主任" in page
    assert stored(member, "post") == ""
    # a flag outside the header is saved
    response = superuser_client.post(url, _member_admin_form(member, is_retired="on"))
    assert response.status_code == 302
    assert stored(member, "is_retired") is True


def test_the_member_page_answers_the_refusal_on_its_form(client, world, ledger):
    member = world.members["m1"]
    hold(sign(ledger), "member", member.pk, until=datetime.date(2999, 12, 31))
    client.force_login(world.user("own_branch_secretary"))
    url = reverse("orgs:member_edit", args=[member.pk])
    response = client.post(url, _member_page_form(member, post="村委会主任"))
    assert response.status_code == 200
    assert "由王书记（党支部书记）于2026年4月3日签字" in response.content.decode()
    assert stored(member, "post") == ""


def test_a_path_without_a_precheck_gets_the_409_page(client, world, ledger, monkeypatch):
    """The safety net: were a page to write a held record without asking first, the trigger
    refuses and the middleware answers with the refusal."""
    member = world.members["m1"]
    hold(sign(ledger), "member", member.pk, until=datetime.date(2999, 12, 31))
    monkeypatch.setattr(org_services, "refuse_if_locked", lambda *args, **kwargs: None)
    client.force_login(world.user("own_branch_secretary"))
    url = reverse("orgs:member_edit", args=[member.pk])
    response = client.post(url, _member_page_form(member, post="村委会主任"))
    assert response.status_code == 409
    page = response.content.decode()
    assert LOCK_MARKER not in page
    if PG:  # the trigger names the signature
        assert (
            "已写入李一 2026年度写实簿的“公开承诺事项”，由王书记（党支部书记）于2026年4月3日签字"
            in page
        )
    else:
        assert (
            "该党员的写实簿表头（姓名、性别、民族、出生年月、入党时间、文化程度、现任职务）已写入写实簿"
            in page
        )
    assert stored(member, "post") == ""


def test_the_middleware_leaves_other_errors_alone(world):
    member = world.members["m1"]
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        Member.objects.filter(pk=member.pk).update(org_id=None)
    assert not is_lock_error(caught.value)
    request = RequestFactory().get("/")
    assert LedgerLockMiddleware(lambda r: None).process_exception(request, caught.value) is None


# ---------------------------------------------------------------- the signing service end to end


def test_signing_holds_the_pledges_and_withdrawing_frees_them(world):
    from ledgers import services as ledger_services

    own, m1, pm = world.user("own_branch_secretary"), world.members["m1"], world.extra["pm"]
    day = datetime.date(2026, 4, 3)
    ledger_services.ledger_sign(
        by=own, subject=m1, year=2026, section="pledge", slot="member", paper_on=day, today=day
    )
    upper = ledger_services.ledger_sign(
        by=own, subject=m1, year=2026, section="pledge", slot="branch", today=day
    )
    with pytest.raises(ValidationError, match="这项承诺已写入李一 2026年度写实簿的“公开承诺事项”"):
        refuse_if_locked("pledge", [pm.pk])
    refused(lambda: Pledge.objects.filter(pk=pm.pk).update(content="改过"))
    refused(lambda: Member.objects.filter(pk=m1.pk).update(name="李一一"))
    lower = Signature.objects.get(ledger=upper.ledger, slot="member")
    ledger_services.signature_withdraw(by=own, signature=lower, reason="承诺内容需要调整")
    Pledge.objects.filter(pk=pm.pk).update(content="改过")
    assert stored(pm, "content") == "改过"


# ---------------------------------------------------------------- the triggers stay in place


def test_every_source_names_real_columns():
    for name, source in locks.SOURCES.items():
        model = next(m for m in apps.get_models() if m._meta.db_table == source.table)
        columns = {f.column for f in model._meta.concrete_fields}
        assert set(source.held) <= columns, name


@pytest.mark.django_db
def test_every_trigger_is_installed():
    expected = {t.name for t in locks.triggers(connection.vendor)}
    assert len(expected) == 2 * len(locks.SOURCES) + 5
    assert expected <= locks.installed_triggers(connection)


@pytest.mark.django_db
def test_a_trigger_lost_to_a_table_rebuild_is_put_back_after_migrate():
    with connection.cursor() as cursor:
        on = ' ON "pledges_pledge"' if PG else ""
        cursor.execute(f"DROP TRIGGER ledgers_held_pledge_upd{on}")
    assert "ledgers_held_pledge_upd" not in locks.installed_triggers(connection)
    locks._restore_after_migrate(sender=apps.get_app_config("ledgers"), using="default")
    assert "ledgers_held_pledge_upd" in locks.installed_triggers(connection)


@pytest.mark.django_db(transaction=True)
def test_flush_empties_a_database_with_signed_sections():
    """SQLite deletes table by table in no set order; the held rows and the signatures must not
    stop it (PostgreSQL truncates, which no row trigger sees)."""
    branch = make_org("X1", OrgKind.BRANCH, make_org("X0", OrgKind.COMMITTEE))
    member = make_member(branch, "赵一")
    ledger = Ledger.objects.create(kind="member", year=2026, member=member, keeper=branch)
    note = LedgerNote.objects.create(ledger=ledger, section="q1", kind="supplement", text="另附")
    signature = sign(ledger)
    hold(signature, "member", member.pk, until=datetime.date(2999, 12, 31))
    hold(signature, "note", note.pk)
    refused(lambda: Member.objects.filter(pk=member.pk).update(name="赵二"))
    call_command("flush", verbosity=0, interactive=False)
    assert not Member.objects.exists() and not Signature.objects.exists()
    assert not Lock.objects.exists() and not Ledger.objects.exists()
    assert {t.name for t in locks.triggers(connection.vendor)} <= locks.installed_triggers(
        connection
    )
