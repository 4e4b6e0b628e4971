"""The tenants' state history (``TenantStateChange``)."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    operations = [
        migrations.CreateModel(
            name="TenantStateChange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("tenant_id", models.CharField(db_index=True, max_length=63)),
                ("previous", models.CharField(blank=True, default="", max_length=32)),
                ("state", models.CharField(max_length=32)),
                ("detail", models.TextField(blank=True, default="")),
                ("actor", models.CharField(blank=True, default="", max_length=150)),
                ("changed_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "verbose_name": "tenant state change",
                "ordering": ("-changed_at", "-id"),
            },
        ),
    ]
