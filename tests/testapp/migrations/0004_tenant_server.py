# The server a schema tenant lives on (docs/scaling.md). Existing rows keep the empty
# value, which means the master database, where their schemas are: nothing moves.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("testapp", "0003_unique_storage_names"),
    ]

    operations = [
        migrations.AddField(
            model_name="tenant",
            name="server",
            field=models.CharField(
                blank=True,
                default="",
                help_text="Schema tenants: the DATABASES alias of the PostgreSQL server that "
                "holds the schema; empty: the master. Chosen at creation, changed only by "
                "moving the tenant.",
                max_length=100,
            ),
        ),
    ]
