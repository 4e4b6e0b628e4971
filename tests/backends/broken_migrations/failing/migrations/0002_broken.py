"""A migration that fails on the server, halfway through provisioning a tenant."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("tenantapp", "0001_initial")]

    operations = [
        # The table does not exist: PostgreSQL raises, the migration and everything in the
        # same provisioning transaction must be rolled back.
        migrations.RunSQL(
            "INSERT INTO omnitenant_no_such_table VALUES (1)", migrations.RunSQL.noop
        ),
    ]
