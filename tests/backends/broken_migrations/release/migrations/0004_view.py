"""RunSQL: a view over the new table, and a non-atomic migration's own transactions."""

from django.db import migrations


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("tenantapp", "0003_fill")]

    operations = [
        migrations.RunSQL(
            "CREATE VIEW tenantapp_stock_total AS SELECT sum(quantity) AS total FROM tenantapp_stock",
            "DROP VIEW tenantapp_stock_total",
        ),
    ]
