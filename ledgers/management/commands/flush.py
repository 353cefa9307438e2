"""Django's flush, able to empty a SQLite database that holds signed 写实簿 sections.

PostgreSQL's flush truncates, which no row trigger sees. SQLite's deletes table by table in no set
order, and the lock triggers (ledgers/locks.py) would refuse a held record deleted before its lock,
a signature deleted before its ledger, or a lock deleted before its signature. So on SQLite the
ledgers, their signatures and the locks go first, in that order, in the same transaction as the
rest (the foreign keys are checked when it commits, once all is gone).
"""

from django.core.management.commands import flush
from django.db import connections, transaction

from ledgers.models import Ledger, Lock, Signature

FIRST = (Ledger._meta.db_table, Signature._meta.db_table, Lock._meta.db_table)


class Command(flush.Command):
    def handle(self, **options):
        database = options["database"]
        connection = connections[database]
        if connection.vendor != "sqlite" or not set(FIRST) <= set(
            connection.introspection.table_names()
        ):
            return super().handle(**options)
        if options["interactive"]:
            confirm = input(
                f"You have requested a flush of the database.\n"
                f'This will IRREVERSIBLY DESTROY all data currently in the "'
                f'{connection.settings_dict["NAME"]}" database,\n'
                "and return each table to an empty state.\n"
                "Are you sure you want to do this?\n\n"
                "    Type 'yes' to continue, or 'no' to cancel: "
            )
            if confirm != "yes":
                self.stdout.write("Flush cancelled.")
                return None
        with transaction.atomic(using=database):
            with connection.cursor() as cursor:
                for table in FIRST:
                    cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")
            return super().handle(**{**options, "interactive": False})
