"""A new release: a column on the page table, filled by a data migration."""

from typing import Any

from django.db import migrations, models


def fill(apps: Any, schema_editor: Any) -> None:
    apps.get_model("home", "HomePage").objects.update(subtitle="since v2")


class Migration(migrations.Migration):
    dependencies = [("home", "0001_initial")]

    operations = [
        # Nullable: the model class of this test project does not know the column.
        migrations.AddField("homepage", "subtitle", models.CharField(max_length=50, null=True)),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
