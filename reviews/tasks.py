"""Background jobs of the reviews app."""

from celery import shared_task
from django.db import connection


@shared_task(name="reviews.vacuum_ballots")
def vacuum_ballots() -> str:
    """After an appraisal closes, let PostgreSQL drop the ballot and slip row versions written
    while voting (with them, the order of casting and the ballot–slip pairing)."""
    if connection.vendor != "postgresql":
        return "skipped"
    from reviews.appraisal.models import Ballot, Slip

    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {Ballot._meta.db_table}, {Slip._meta.db_table}")
    return "done"
