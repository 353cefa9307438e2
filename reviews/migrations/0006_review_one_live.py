"""One live review per period, subject, reviewing organisation and version, in the database too
(the service's check alone let two simultaneous requests both pass)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0005_appraisal_turnout"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="leaderreview",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status__in", ["draft", "signed"]), ("subject_kind", "member")),
                fields=(
                    "year",
                    "period_kind",
                    "period",
                    "reviewer_org",
                    "subject_member",
                    "version",
                ),
                name="review_one_live_member",
            ),
        ),
        migrations.AddConstraint(
            model_name="leaderreview",
            constraint=models.UniqueConstraint(
                condition=models.Q(
                    ("status__in", ["draft", "signed"]),
                    ("subject_kind__in", ["org", "secretary"]),
                ),
                fields=(
                    "year",
                    "period_kind",
                    "period",
                    "reviewer_org",
                    "subject_kind",
                    "subject_org",
                    "version",
                ),
                name="review_one_live_org",
            ),
        ),
    ]
