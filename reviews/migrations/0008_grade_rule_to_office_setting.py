"""The appraisal grade rule becomes an office setting (orgs.OfficeSetting, key "appraisal.grades")."""

from django.db import migrations

KEY = "appraisal.grades"
FIELDS = [
    "excellent_good_min",
    "excellent_poor_max",
    "basic_positive_min",
    "fail_poor_min",
    "commend_satisfaction_min",
    "turnout_min",
]


def forward(apps, schema_editor):
    rule = apps.get_model("reviews", "GradeRule")
    setting = apps.get_model("orgs", "OfficeSetting")
    setting.objects.bulk_create(
        setting(
            org_id=row.org_id,
            year=row.year,
            key=KEY,
            value={name: getattr(row, name) for name in FIELDS},
            set_by_id=row.set_by_id,
        )
        for row in rule.objects.all()
    )


def backward(apps, schema_editor):
    rule = apps.get_model("reviews", "GradeRule")
    setting = apps.get_model("orgs", "OfficeSetting")
    rows = setting.objects.filter(key=KEY)
    rule.objects.bulk_create(
        rule(
            org_id=row.org_id,
            year=row.year,
            set_by_id=row.set_by_id,
            **{name: row.value[name] for name in FIELDS if name in row.value},
        )
        for row in rows
    )
    rows.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("orgs", "0008_office_setting"),
        ("reviews", "0007_review_by_subject"),
    ]

    operations = [
        migrations.RunPython(forward, backward),
        migrations.DeleteModel(name="GradeRule"),
    ]
