"""ReviewRectification takes the shared rectification base (orgs.rectifications): `text` becomes
`requirement`, `report` becomes `response`, and each item records who issued it and when. Items
kept from before take the time and actor of the review's "rectify" event that recorded them;
without one, the reviewer (only the reviewer may issue one) when the review was signed."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce


def issued_by_the_reviewer(apps, schema_editor):
    item = apps.get_model("reviews", "ReviewRectification")
    review = apps.get_model("reviews", "LeaderReview")
    event = apps.get_model("reviews", "ReviewEvent")
    of_review = review.objects.filter(pk=OuterRef("review_id"))
    item.objects.update(
        issued_by_id=Subquery(of_review.values("reviewer_id")[:1]),
        issued_at=Coalesce(
            Subquery(of_review.values("signed_at")[:1]),
            Subquery(of_review.values("updated_at")[:1]),
            F("issued_at"),
        ),
    )
    # The item's own moment is in the review's history: the "rectify" event written when it was
    # issued, whose comment begins with the item's text and its deadline.
    issued = {}
    for row in event.objects.filter(action="rectify").order_by("at", "pk"):
        issued.setdefault((row.review_id, row.comment), (row.at, row.actor_id))
    changed = []
    for row in item.objects.all().iterator():
        found = issued.get((row.review_id, f"{row.requirement}（期限 {row.deadline:%Y-%m-%d}）"))
        if found:
            row.issued_at, actor = found
            row.issued_by_id = actor or row.issued_by_id
            changed.append(row)
    item.objects.bulk_update(changed, ["issued_at", "issued_by"], batch_size=1000)


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
