"""A data migration: rows joined by a foreign key, checked (deferred) at the end."""

from typing import Any

from django.db import migrations


def seed(apps: Any, schema_editor: Any) -> None:
    notebook_model = apps.get_model("tenantapp", "Notebook")
    note_model = apps.get_model("tenantapp", "Note")
    notebook = notebook_model.objects.create(title="Welcome")
    note_model.objects.create(notebook=notebook, text="Seeded by a data migration")


class Migration(migrations.Migration):
    dependencies = [("tenantapp", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
