"""DDL only: a new model with a foreign key, a unique constraint and an index."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tenantapp", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="Stock",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("sku", models.CharField(max_length=20, unique=True)),
                ("quantity", models.IntegerField(default=0)),
                (
                    "notebook",
                    models.ForeignKey(
                        null=True, on_delete=models.deletion.CASCADE, to="tenantapp.notebook"
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="stock",
            index=models.Index(fields=["quantity"], name="stock_quantity_idx"),
        ),
    ]
