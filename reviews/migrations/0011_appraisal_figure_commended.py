"""The kept 民主评议 figures count the 评先评优 suggestions (members 优秀 of sessions not published
below the turnout share); the rows kept already get their count here, as a rebuild would."""

from django.db import migrations, models

FILL = """
UPDATE reviews_appraisalfigure SET members_commended = (
    SELECT COUNT(*) FROM reviews_appraisalsubject s
    JOIN reviews_appraisal a ON a.id = s.appraisal_id
    WHERE a.org_id = reviews_appraisalfigure.org_id
      AND a.year = CAST(substr(reviews_appraisalfigure.period, 1, 4) AS INTEGER)
      AND a.state = 'published' AND a.kind = 'member' AND NOT a.low_turnout
      AND s.member_id IS NOT NULL AND s.final_grade = 'excellent'
)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0010_figures"),
    ]

    operations = [
        migrations.AddField(
            model_name="appraisalfigure",
            name="members_commended",
            field=models.PositiveIntegerField(default=0, verbose_name="评先评优推荐党员"),
        ),
        migrations.RunSQL(FILL, migrations.RunSQL.noop, elidable=True),
    ]
