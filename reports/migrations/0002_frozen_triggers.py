"""A submitted snapshot never changes, on every path: triggers refuse an UPDATE of a submission,
its attachments or its return (the models refuse one already; these hold against a bulk update,
the admin's SQL or a console). On PostgreSQL they refuse a DELETE too; SQLite's flush deletes
table by table, so there a deletion is refused by the models only.

On PostgreSQL the refusal is a raise_exception (P0001), never an integrity error, which the
services read as a second submission or return of the same version."""

from django.db import migrations

TABLES = {
    "reports_submission": "已报送的统计表不能修改或删除。",
    "reports_submissionattachment": "报送附件不能修改或删除。",
    "reports_submissionreturn": "报送退回记录不能修改或删除。",
}

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION reports_frozen_refuse() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = TG_ARGV[0];
END;
$$ LANGUAGE plpgsql
"""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def install(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION)
        for table, message in TABLES.items():
            schema_editor.execute(
                f"CREATE TRIGGER {table}_frozen BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION reports_frozen_refuse({_literal(message)})"
            )
    elif vendor == "sqlite":
        for table, message in TABLES.items():
            schema_editor.execute(
                f"CREATE TRIGGER {table}_frozen BEFORE UPDATE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, {_literal(message)}); END"
            )


def uninstall(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        on = f" ON {table}" if vendor == "postgresql" else ""
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_frozen{on}")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS reports_frozen_refuse()")


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_submissions")]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
