"""A non-atomic migration: ``CREATE INDEX CONCURRENTLY`` refuses a transaction block."""

from django.db import migrations


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("tenantapp", "0001_initial")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX CONCURRENTLY note_text_upper_idx ON tenantapp_note (upper(text))",
            "DROP INDEX CONCURRENTLY IF EXISTS note_text_upper_idx",
        ),
    ]
