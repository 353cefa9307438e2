from django.db import migrations


def normalise_names(apps, schema_editor):
    """Member names are stored without spaces or characters that draw nothing (orgs.text
    person_name), as the form and the import now store them: the names kept from before are
    brought to the same form, so that the import and the duplicate check find them."""
    from orgs.text import person_name

    Member = apps.get_model("orgs", "Member")
    changed = []
    for pk, name in Member.objects.order_by("pk").values_list("pk", "name").iterator(chunk_size=5000):
        normal = person_name(name)
        if normal and normal != name:
            changed.append(Member(pk=pk, name=normal))
    Member.objects.bulk_update(changed, ["name"], batch_size=1000)


class Migration(migrations.Migration):

    dependencies = [
        ("orgs", "0006_password_setting"),
    ]

    operations = [
        migrations.RunPython(normalise_names, migrations.RunPython.noop),
    ]
