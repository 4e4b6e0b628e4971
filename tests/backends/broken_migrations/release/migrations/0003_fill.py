"""A field added without a kept default, then RunPython that needs that field."""

from typing import Any

from django.db import migrations, models


def fill(apps: Any, schema_editor: Any) -> None:
    # Fails unless ``apps`` is this migration's state: ``unit`` exists only from here on.
    stock = apps.get_model("tenantapp", "Stock")
    stock.objects.using(schema_editor.connection.alias).bulk_create(
        [stock(sku=f"sku-{n}", quantity=n, unit="box") for n in range(3)]
    )


def empty(apps: Any, schema_editor: Any) -> None:
    apps.get_model("tenantapp", "Stock").objects.using(schema_editor.connection.alias).all().delete()


class Migration(migrations.Migration):
    dependencies = [("tenantapp", "0002_stock")]

    operations = [
        migrations.AddField(
            model_name="stock",
            name="unit",
            field=models.CharField(max_length=10, default="piece"),
            preserve_default=False,
        ),
        migrations.RunPython(fill, empty),
    ]
