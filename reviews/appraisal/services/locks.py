"""The session row's locks, and the checks every step makes while holding them.

A step that changes a session locks its row (`lock_session`); casting a ballot and printing slips
only share-lock it (`read_shared`), so ballots are cast side by side while closing, which takes
the row exclusively, waits for them and turns away any that come later.
"""

from __future__ import annotations

from django.db import connection

from orgs.refusals import refuse
from reviews.appraisal.access import can_run_appraisal, run_refusal
from reviews.appraisal.models import Appraisal


def lock_session(appraisal: Appraisal) -> Appraisal:
    """The session's row, locked for the rest of the transaction and read afresh."""
    return (
        Appraisal.objects.select_for_update(of=("self",)).select_related("org").get(pk=appraisal.pk)
    )


def read_shared(appraisal_id: int):
    """The session's state, read under a share lock on PostgreSQL: closing takes the row
    exclusively, so a ballot is either in before the count or refused after it."""
    table = Appraisal._meta.db_table
    lock = " FOR SHARE" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT state, subject_count, slip_salt, method FROM {table} WHERE id = %s{lock}",
            [appraisal_id],
        )
        return cursor.fetchone()


def serial_lock(appraisal_id: int) -> None:
    """Two batches of slips printed at once get distinct serials."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7101, appraisal_id])


def require_runner(user, appraisal: Appraisal) -> None:
    """Refuse whoever may not run the session."""
    if not can_run_appraisal(user, appraisal):
        refuse(run_refusal(appraisal))


def require_state(appraisal: Appraisal, *states: str) -> None:
    """Refuse a step the session's current state does not allow."""
    if appraisal.state not in states:
        refuse(f"评议当前处于“{appraisal.get_state_display()}”阶段，不能进行此操作。")
