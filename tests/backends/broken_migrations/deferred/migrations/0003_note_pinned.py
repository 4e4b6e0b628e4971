"""A later release alters the table the data migration wrote to (an ALTER TABLE)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tenantapp", "0002_seed")]

    operations = [
        migrations.AddField("note", "pinned", models.BooleanField(default=False)),
    ]
