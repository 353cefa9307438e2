"""The history of passwords set by someone other than the account's owner.

Logins opened before this table are backfilled from the audit log ("login_open": the actor opened
the member's account with a password the actor saw). Passwords a superuser set in the admin
before then left no audit row and cannot be recovered."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def backfill(apps, schema_editor):
    setting = apps.get_model("orgs", "PasswordSetting")._meta.db_table
    audit = apps.get_model("orgs", "AuditEntry")._meta.db_table
    member = apps.get_model("orgs", "Member")._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {setting} (user_id, by_id, at) "
            f"SELECT m.user_id, a.actor_id, a.at FROM {audit} a "
            f"JOIN {member} m ON m.id = a.member_id "
            "WHERE a.action = 'login_open' AND a.actor_id IS NOT NULL "
            "AND m.user_id IS NOT NULL AND m.user_id <> a.actor_id"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("orgs", "0005_education_levels"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="PasswordSetting",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("at", models.DateTimeField(auto_now_add=True, verbose_name="时间")),
                (
                    "by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="设置人",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="password_settings",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="账号",
                    ),
                ),
            ],
            options={
                "verbose_name": "他人设置密码记录",
                "verbose_name_plural": "他人设置密码记录",
                "indexes": [models.Index(fields=["user", "by"], name="password_setting_user_by")],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
