"""What makes a ballot trustworthy: secrecy in the schema, exact counting, and no double or late
votes under concurrency (PostgreSQL)."""

import random
import threading
import uuid
from collections import Counter

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviews.appraisal import services, tally
from reviews.appraisal.models import Appraisal, Ballot, Slip
from tests.appraisal_world import open_appraisal
from tests.personas import build_personas

# ---------------------------------------------------------------- secrecy in the schema

FORBIDDEN_NAME_PARTS = ("slip", "code", "serial", "user", "session", "ip", "addr", "agent", "time")
FORBIDDEN_NAME_PARTS += ("created", "updated", "cast_at", "date", "voter", "member", "hash")


def test_no_ballot_column_links_to_a_code_user_session_time_or_address():
    """A ballot holds its random id, the session (评议) it counts for, the group printed on the
    slip and the grades. Nothing else — in the model and in the database table."""
    fields = {f.column: f for f in Ballot._meta.concrete_fields}
    assert set(fields) == {"id", "appraisal_id", "group", "marks"}
    assert isinstance(fields["id"], models.UUIDField) and fields["id"].default is uuid.uuid4
    for column, field in fields.items():
        assert not isinstance(
            field,
            models.DateField
            | models.DateTimeField
            | models.TimeField
            | models.GenericIPAddressField,
        ), column
        if field.is_relation:
            assert field.related_model is Appraisal, column
            assert field.related_model not in (Slip, get_user_model(), Session)
        if column != "appraisal_id":
            assert not any(part in column for part in FORBIDDEN_NAME_PARTS), column
    # a slip keeps its serial, group, hash and used/voided only: nobody, no moment
    slip_columns = {f.column for f in Slip._meta.concrete_fields}
    assert slip_columns == {
        "id",
        "appraisal_id",
        "serial",
        "group",
        "secret_hash",
        "used",
        "voided",
    }


@pytest.mark.django_db
def test_the_database_tables_match_the_models():
    with connection.cursor() as cursor:
        for model in (Ballot, Slip):
            described = connection.introspection.get_table_description(cursor, model._meta.db_table)
            assert {c.name for c in described} == {f.column for f in model._meta.concrete_fields}


@pytest.mark.django_db
def test_ballot_ids_are_random():
    p = build_personas()
    own = p.user("own_branch_secretary")
    appraisal = open_appraisal(p)
    for _, code in services.slips_issue(by=own, appraisal=appraisal, group="member", count=20):
        services.ballot_cast(appraisal_id=appraisal.pk, code=code, marks={1: 1})
    ids = list(Ballot.objects.values_list("id", flat=True))
    assert len(set(ids)) == 20 and all(i.version == 4 for i in ids)


# ---------------------------------------------------------------- exact counting

grade = st.integers(min_value=0, max_value=4)
group = st.sampled_from(["member", "masses"])


@st.composite
def sessions(draw):
    n = draw(st.integers(min_value=1, max_value=6))
    sheet = st.lists(grade, min_size=n, max_size=n)
    code_ballots = draw(st.lists(st.tuples(group, sheet), max_size=40))
    paper = {}
    for g in draw(st.sets(group)):
        sheets = draw(st.lists(sheet, max_size=30))
        spoiled = draw(st.integers(min_value=0, max_value=5))
        extra = draw(st.integers(min_value=0, max_value=5))
        paper[g] = (sheets, spoiled, extra)
    return n, code_ballots, paper


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sessions())
def test_tally_matches_the_true_counts(session):
    """Random code ballots and paper sheets: the tally equals a count of every sheet by hand."""
    n, code_ballots, paper = session
    appraisal = Appraisal(kind="member", public_id="prop")
    records = {
        "subjects": [(i + 1, f"对象{i + 1}", i + 1, None) for i in range(n)],
        "ballots": [(str(uuid.uuid4()), g, "".join(map(str, marks))) for g, marks in code_ballots],
        "paper": [],
        "slips_issued": len(code_ballots),
        "slips_used": len(code_ballots),
    }
    true = [Counter() for _ in range(n)]
    party = masses = 0
    counted = len(code_ballots)
    for g, marks in code_ballots:
        party += g == "member"
        masses += g == "masses"
        for i, m in enumerate(marks):
            true[i][m] += 1
    for g, (sheets, spoiled, extra) in paper.items():
        blank = [s for s in sheets if not any(s)]
        valid = [s for s in sheets if any(s)]
        counts = [[0] * 5 for _ in range(n)]
        for s in valid:
            for i, m in enumerate(s):
                counts[i][m - 1 if m else 4] += 1
        for s in sheets:
            for i, m in enumerate(s):
                true[i][m] += 1
        returned = len(sheets) + spoiled
        records["paper"].append(
            {
                "group": g,
                "sheets_issued": returned + extra,
                "sheets_returned": returned,
                "blank_sheets": len(blank),
                "spoiled_sheets": spoiled,
                "counts": counts,
            }
        )
        counted += len(sheets)
        party += returned if g == "member" else 0
        masses += returned if g == "masses" else 0
    result = tally.count(appraisal, records)
    assert result["ok"]
    assert result["ballots"] == counted
    assert (result["party_participants"], result["mass_participants"]) == (party, masses)
    for i, row in enumerate(result["subjects"]):
        assert row["total"] == [true[i][1], true[i][2], true[i][3], true[i][4], true[i][0]]
        assert sum(row["total"]) == counted


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_ballots_through_the_service_count_exactly(seed):
    rng = random.Random(seed)
    p = build_personas()
    own = p.user("own_branch_secretary")
    appraisal = open_appraisal(p)
    issued = services.slips_issue(by=own, appraisal=appraisal, group="masses", count=40)
    true = [Counter(), Counter()]
    for _, code in issued[: rng.randint(5, 40)]:
        marks = {1: rng.choice([None, 1, 2, 3, 4]), 2: rng.choice([None, 1, 2, 3, 4])}
        services.ballot_cast(appraisal_id=appraisal.pk, code=code, marks=marks)
        for i, m in enumerate(marks.values()):
            true[i][m or 0] += 1
    appraisal = services.appraisal_close(by=own, appraisal=appraisal)
    for i, row in enumerate(appraisal.tally["subjects"]):
        assert row["total"] == [true[i][1], true[i][2], true[i][3], true[i][4], true[i][0]]
    assert tally.verify(appraisal)["digest_matches"]


# ---------------------------------------------------------------- concurrency (PostgreSQL)

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks are PostgreSQL's"
)


def _in_threads(jobs):
    """Run the callables at once (a barrier starts them together); each returns its outcome."""
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)

    def run(i, job):
        try:
            barrier.wait()
            results[i] = job()
        except ValidationError as error:
            results[i] = error.messages[0]
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _cast(appraisal_id, code):
    def job():
        services.ballot_cast(appraisal_id=appraisal_id, code=code, marks={1: 1, 2: 2})
        return "ok"

    return job


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_each_code_submitted_twice_at_once_counts_once():
    p = build_personas()
    own = p.user("own_branch_secretary")
    appraisal = open_appraisal(p)
    issued = []
    for _ in range(2):
        issued += services.slips_issue(by=own, appraisal=appraisal, group="member", count=50)
    outcomes = []
    for start in range(0, 100, 20):  # 20 codes × 2 submissions at a time
        batch = issued[start : start + 20]
        outcomes += _in_threads([_cast(appraisal.pk, code) for _, code in batch for _ in (0, 1)])
    assert outcomes.count("ok") == 100
    refusals = [o for o in outcomes if o != "ok"]
    assert len(refusals) == 100 and all("已经投过票" in o for o in refusals)
    assert Ballot.objects.filter(appraisal=appraisal).count() == 100
    assert Slip.objects.filter(appraisal=appraisal, used=True).count() == 100


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_votes_racing_the_close_are_in_the_count_or_refused():
    p = build_personas()
    own = p.user("own_branch_secretary")
    appraisal = open_appraisal(p)
    issued = services.slips_issue(by=own, appraisal=appraisal, group="member", count=61)
    _cast(appraisal.pk, issued[0][1])()  # closing needs at least one ballot

    def close():
        services.appraisal_close(by=own, appraisal=Appraisal.objects.get(pk=appraisal.pk))
        return "closed"

    outcomes = _in_threads([_cast(appraisal.pk, code) for _, code in issued[1:]] + [close])
    assert outcomes[-1] == "closed"
    accepted = outcomes[:-1].count("ok")
    refused = [o for o in outcomes[:-1] if o != "ok"]
    assert all("已经结束" in o for o in refused)
    appraisal.refresh_from_db()
    # every accepted ballot is in the frozen tally, and nothing was stored after it
    assert appraisal.tally["code_ballots"] == accepted + 1
    assert Ballot.objects.filter(appraisal=appraisal).count() == accepted + 1
    assert Slip.objects.filter(appraisal=appraisal, used=True).count() == accepted + 1
    assert tally.verify(appraisal)["digest_matches"]


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_closing_leaves_nothing_in_storage_pairing_a_ballot_with_its_slip():
    """PostgreSQL stamps each row with the transaction that wrote it (xmin): while voting, a
    ballot and its slip share one. After closing, every ballot and slip of the session carries
    the closing transaction's stamp, and the ballots lie in id order, not in casting order."""
    p = build_personas()
    own = p.user("own_branch_secretary")
    appraisal = open_appraisal(p)
    issued = services.slips_issue(by=own, appraisal=appraisal, group="member", count=6)
    for _, code in issued[:5]:
        services.ballot_cast(appraisal_id=appraisal.pk, code=code, marks={1: 1})
    ballot_table, slip_table = Ballot._meta.db_table, Slip._meta.db_table
    stamps = f"SELECT count(DISTINCT xmin::text) FROM {ballot_table} WHERE appraisal_id = %s"
    pairs = (
        f"SELECT count(*) FROM {ballot_table} b JOIN {slip_table} s ON s.xmin = b.xmin "
        f"WHERE b.appraisal_id = %s AND s.used"
    )

    def one(sql):
        with connection.cursor() as cursor:
            cursor.execute(sql, [appraisal.pk])
            return cursor.fetchone()[0]

    assert (one(stamps), one(pairs)) == (5, 5)  # while voting: each ballot meets its own slip
    appraisal = services.appraisal_close(by=own, appraisal=appraisal)
    assert (one(stamps), one(pairs)) == (1, 25)  # after: every ballot meets every used slip
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {ballot_table} WHERE appraisal_id = %s ORDER BY ctid", [appraisal.pk]
        )
        physical = [row[0] for row in cursor.fetchall()]
    assert physical == sorted(physical)
    assert tally.verify(appraisal)["digest_matches"]


@pytest.mark.django_db(transaction=True)
def test_the_close_stands_when_the_cleanup_cannot_be_queued(monkeypatch):
    from reviews import tasks

    def broker_down():
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.vacuum_ballots, "delay", broker_down)
    p = build_personas()
    own = p.user("own_branch_secretary")
    appraisal = open_appraisal(p)
    [(_, code)] = services.slips_issue(by=own, appraisal=appraisal, group="member", count=1)
    services.ballot_cast(appraisal_id=appraisal.pk, code=code, marks={1: 1})
    services.appraisal_close(by=own, appraisal=appraisal)  # no exception reaches the caller
    assert Appraisal.objects.get(pk=appraisal.pk).state == "closed"


# ---------------------------------------------------------------- SQLite: the write-ahead log

sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the SQLite write-ahead log and VACUUM"
)


@sqlite_only
def test_compacting_a_sqlite_file_empties_its_write_ahead_log(tmp_path, django_db_blocker):
    """In WAL mode the -wal file keeps the rows in the order they were written, deleted ones
    too, until a checkpoint; the free pages of the main file keep them until VACUUM."""
    from django.db.backends.sqlite3.base import DatabaseWrapper

    from reviews.tasks import sqlite_compact

    path = tmp_path / "db.sqlite3"
    settings_dict = {
        **connection.settings_dict,
        "NAME": str(path),
        "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL;"},
        "TEST": {},
    }
    db = DatabaseWrapper(settings_dict, alias="wal_test")
    with django_db_blocker.unblock():
        _fill_and_compact(db, path, sqlite_compact)


def _fill_and_compact(db, path, sqlite_compact):
    try:
        with db.cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint=0")  # as a busy server leaves it pending
            cursor.execute("CREATE TABLE ballot (id TEXT, marks TEXT)")
            for i in range(200):
                cursor.execute("INSERT INTO ballot VALUES (%s, %s)", [f"cast-{i:04d}", "1234"])
            cursor.execute("DELETE FROM ballot")
        wal = path.with_name("db.sqlite3-wal")
        assert wal.stat().st_size > 0 and b"cast-0001" in wal.read_bytes()
        assert sqlite_compact(db) == "done"
        assert wal.stat().st_size == 0
        assert b"cast-0001" not in path.read_bytes()
    finally:
        db.close()


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_closing_on_sqlite_vacuums_and_checkpoints_the_log():
    p = build_personas()
    own = p.user("own_branch_secretary")
    appraisal = open_appraisal(p)
    [(_, code)] = services.slips_issue(by=own, appraisal=appraisal, group="member", count=1)
    services.ballot_cast(appraisal_id=appraisal.pk, code=code, marks={1: 1})
    with CaptureQueriesContext(connection) as queries:
        services.appraisal_close(by=own, appraisal=appraisal)
    statements = [q["sql"] for q in queries.captured_queries]
    assert "VACUUM" in statements
    assert "PRAGMA wal_checkpoint(TRUNCATE)" in statements
    assert statements.index("VACUUM") < statements.index("PRAGMA wal_checkpoint(TRUNCATE)")
