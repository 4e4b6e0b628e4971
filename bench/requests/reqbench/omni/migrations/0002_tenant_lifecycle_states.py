# The lifecycle states of django_omnitenant 0.x (provisioning, maintenance, failed) and
# the field that says why a tenant is in its state. The states stored before (active,
# suspended, marked_for_deletion) keep their values: no row needs rewriting.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("omni", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="tenant",
            name="status",
            field=models.CharField(
                choices=[
                    ("provisioning", "Provisioning"),
                    ("active", "Active"),
                    ("suspended", "Suspended"),
                    ("maintenance", "Maintenance (read-only)"),
                    ("marked_for_deletion", "Marked for deletion"),
                    ("failed", "Failed"),
                ],
                default="active",
                help_text="The lifecycle state; changed only through django_omnitenant.provisioning.",
                max_length=32,
            ),
        ),
        migrations.AddField(
            model_name="tenant",
            name="status_detail",
            field=models.TextField(
                blank=True,
                default="",
                help_text="Why the tenant is in its state (the error of a failed provisioning).",
            ),
        ),
    ]
