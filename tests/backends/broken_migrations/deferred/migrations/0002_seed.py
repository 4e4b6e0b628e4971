"""A data migration: rows joined by a foreign key, checked (deferred) at the end."""

from typing import Any

from django.db import migrations


def seed(apps: Any, schema_editor: Any) -> None:
    notebook_model = apps.get_model("tenantapp", "Notebook")
    note_model = apps.get_model("tenantapp", "Note")
    notebook = notebook_model.objects.create(title="Welcome")
    note_model.objects.create(notebook=notebook, text="Seeded by a data migration")


def unseed(apps: Any, schema_editor: Any) -> None:
    # A real way back: a template migrated back must not keep the rows in its clones.
    apps.get_model("tenantapp", "Note").objects.filter(text="Seeded by a data migration").delete()
    apps.get_model("tenantapp", "Notebook").objects.filter(title="Welcome").delete()


class Migration(migrations.Migration):
    dependencies = [("tenantapp", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
