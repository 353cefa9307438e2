"""文化程度 takes the national standard's levels; the two old words that are not levels move."""

from django.db import migrations, models

# Old value → standard level. 初中及以下 becomes 初中: the old word cannot tell 小学 from 初中, and
# 初中 is the level most of those members have; a secretary corrects the few others by hand.
FORWARD = {"中专": "中等专科", "初中及以下": "初中"}
# Back to the six old words (lossy: the old choices had no finer levels).
BACKWARD = {
    "博士研究生": "研究生",
    "硕士研究生": "研究生",
    "中等专科": "中专",
    "职业高中": "中专",
    "技工学校": "中专",
    "初中": "初中及以下",
    "小学": "初中及以下",
    "其他": "初中及以下",
}


def _remap(apps, mapping):
    Member = apps.get_model("orgs", "Member")
    for old, new in mapping.items():
        Member.objects.filter(education=old).update(education=new)


def forwards(apps, schema_editor):
    _remap(apps, FORWARD)


def backwards(apps, schema_editor):
    _remap(apps, BACKWARD)


class Migration(migrations.Migration):
    dependencies = [
        ("orgs", "0004_account_state_throttle"),
    ]

    operations = [
        migrations.AlterField(
            model_name="member",
            name="education",
            field=models.CharField(
                choices=[
                    ("博士研究生", "博士研究生"),
                    ("硕士研究生", "硕士研究生"),
                    ("研究生", "研究生"),
                    ("大学本科", "大学本科"),
                    ("大学专科", "大学专科"),
                    ("中等专科", "中等专科"),
                    ("职业高中", "职业高中"),
                    ("技工学校", "技工学校"),
                    ("高中", "高中"),
                    ("初中", "初中"),
                    ("小学", "小学"),
                    ("其他", "其他"),
                ],
                max_length=10,
                verbose_name="文化程度",
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
