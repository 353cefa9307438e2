"""ReviewRectification takes the shared rectification base (orgs.rectifications): `text` becomes
`requirement`, `report` becomes `response`, and each item records who issued it and when. Items
kept from before were issued by their review's reviewer (only the reviewer may issue one), at the
latest when the review was signed."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce


def issued_by_the_reviewer(apps, schema_editor):
    item = apps.get_model("reviews", "ReviewRectification")
    review = apps.get_model("reviews", "LeaderReview")
    of_review = review.objects.filter(pk=OuterRef("review_id"))
    item.objects.update(
        issued_by_id=Subquery(of_review.values("reviewer_id")[:1]),
        issued_at=Coalesce(
            Subquery(of_review.values("signed_at")[:1]),
            Subquery(of_review.values("updated_at")[:1]),
            F("issued_at"),
        ),
    )


class Migration(migrations.Migration):
    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("reviews", "0008_grade_rule_to_office_setting"),
    ]

    operations = [
        migrations.RenameField(
            model_name="reviewrectification", old_name="text", new_name="requirement"
        ),
        migrations.RenameField(
            model_name="reviewrectification", old_name="report", new_name="response"
        ),
        migrations.AlterField(
            model_name="reviewrectification",
            name="requirement",
            field=models.CharField(max_length=1000, verbose_name="整改要求"),
        ),
        migrations.AlterField(
            model_name="reviewrectification",
            name="status",
            field=models.CharField(
                choices=[("open", "整改中"), ("reported", "已报告整改情况"), ("closed", "已销号")],
                default="open",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="reviewrectification",
            name="issued_by",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="reviewrectification",
            name="issued_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.RunPython(issued_by_the_reviewer, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="reviewevent",
            name="comment",
            field=models.TextField(blank=True, max_length=2000),
        ),
    ]
