"""The triggers that hold the records under a live signature, and the signature and lock rows
themselves (ledgers/locks.py), on PostgreSQL and SQLite."""

from django.db import migrations


def install(apps, schema_editor):
    from ledgers import locks

    locks.install(schema_editor)


def uninstall(apps, schema_editor):
    from ledgers import locks

    locks.uninstall(schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("ledgers", "0001_initial"),
        # the tables the triggers are on
        ("orgs", "0009_calendar_reminders_jobs"),
        ("pledges", "0004_rectification_base"),
        ("reviews", "0009_review_rectification_base"),
    ]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
