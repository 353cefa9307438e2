"""Turnout of a democratic appraisal: the office's share (with the grade rule) and, frozen at
publication, whether a session fell below it. Sessions already published are judged by the default
share (two thirds, 67%), the only one there was."""

from django.db import migrations, models

DEFAULT_TURNOUT_MIN = 67
GROUPS = {
    "member": ("member", "masses"),
    "org": ("member", "masses", "leader", "recipient"),
}


def mark_published(apps, schema_editor):
    Appraisal = apps.get_model("reviews", "Appraisal")
    low = []
    for appraisal in Appraisal.objects.filter(state="published").iterator():
        tally = appraisal.tally or {}
        participants = tally.get("party_participants", 0) + tally.get("mass_participants", 0)
        expected = sum(getattr(appraisal, f"expected_{g}") for g in GROUPS[appraisal.kind])
        if expected and (participants * 200 + expected) // (2 * expected) < DEFAULT_TURNOUT_MIN:
            low.append(appraisal.pk)
    Appraisal.objects.filter(pk__in=low).update(low_turnout=True)


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0004_appraisal_excluded"),
    ]

    operations = [
        migrations.AddField(
            model_name="appraisal",
            name="low_turnout",
            field=models.BooleanField(default=False, verbose_name="参加率偏低"),
        ),
        migrations.AddField(
            model_name="graderule",
            name="turnout_min",
            field=models.PositiveSmallIntegerField(
                default=67, verbose_name="参加率不低于（%），否则不推荐评先评优"
            ),
        ),
        migrations.RunPython(mark_published, migrations.RunPython.noop),
    ]
