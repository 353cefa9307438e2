"""The pledge window becomes an office setting (orgs.OfficeSetting, key "pledges.window")."""

from django.db import migrations

KEY = "pledges.window"


def forward(apps, schema_editor):
    window = apps.get_model("pledges", "PledgeWindow")
    setting = apps.get_model("orgs", "OfficeSetting")
    setting.objects.bulk_create(
        setting(
            org_id=row.org_id,
            year=row.year,
            key=KEY,
            value={"start": row.start.isoformat(), "end": row.end.isoformat()},
            set_by_id=row.set_by_id,
        )
        for row in window.objects.all()
    )


def backward(apps, schema_editor):
    import datetime

    window = apps.get_model("pledges", "PledgeWindow")
    setting = apps.get_model("orgs", "OfficeSetting")
    rows = setting.objects.filter(key=KEY)
    window.objects.bulk_create(
        window(
            org_id=row.org_id,
            year=row.year,
            start=datetime.date.fromisoformat(row.value["start"]),
            end=datetime.date.fromisoformat(row.value["end"]),
            set_by_id=row.set_by_id,
        )
        for row in rows
    )
    rows.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("orgs", "0008_office_setting"),
        ("pledges", "0002_history"),
    ]

    operations = [
        migrations.RunPython(forward, backward),
        migrations.DeleteModel(name="PledgeWindow"),
    ]
