"""A data migration that breaks a deferred foreign key: refused when its unit ends."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("tenantapp", "0001_initial")]

    operations = [
        migrations.RunSQL(
            "INSERT INTO tenantapp_note (notebook_id, text, priority, created)"
            " VALUES (424242, 'points nowhere', 3, now())",
            migrations.RunSQL.noop,
        ),
    ]
