"""Background jobs of the reviews app."""

from celery import shared_task
from django.db import connection


@shared_task(name="reviews.vacuum_ballots")
def vacuum_ballots() -> str:
    """After an appraisal closes, let the database drop the ballot and slip row versions written
    while voting (with them, the order of casting and the ballot–slip pairing): PostgreSQL
    vacuums the two tables; SQLite rebuilds the file and empties its write-ahead log."""
    if connection.vendor == "sqlite":
        return sqlite_compact(connection)
    if connection.vendor != "postgresql":
        return "skipped"
    from reviews.appraisal.models import Ballot, Slip

    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {Ballot._meta.db_table}, {Slip._meta.db_table}")
    return "done"


def sqlite_compact(conn) -> str:
    """VACUUM (deleted rows and free pages no longer hold old ballots), then checkpoint the WAL
    and truncate it to zero bytes: until then it keeps the ballots in the order they were cast.
    VACUUM cannot run inside a transaction; the close queues this after its commit."""
    if conn.in_atomic_block:
        return "skipped"
    with conn.cursor() as cursor:
        cursor.execute("VACUUM")
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        busy = cursor.fetchone()
    # (busy, log frames, checkpointed): busy when a reader holds an old snapshot; best effort
    return "done" if not busy or not busy[0] else "busy"
