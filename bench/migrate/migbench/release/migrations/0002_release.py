"""The release: one new nullable column, as most releases add."""

from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("notes", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="note",
            name="archived_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
