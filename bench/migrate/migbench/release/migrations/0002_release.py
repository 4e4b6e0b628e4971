"""The release: one new index, the migration issue 16 measures (``AddIndex``)."""

from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("notes", "0001_initial")]

    operations = [
        migrations.AddIndex(
            model_name="note",
            index=models.Index(fields=["priority", "title"], name="note_priority_title_idx"),
        ),
    ]
