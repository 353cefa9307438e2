"""Lock rows stay after a withdrawal (withdrawn_at releases them) and cannot be deleted while
their signature is live: the triggers of 0002 put in place again with the new one."""

from django.db import migrations


def install(apps, schema_editor):
    from ledgers import locks

    locks.install(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("ledgers", "0002_locks")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop, elidable=False)]
