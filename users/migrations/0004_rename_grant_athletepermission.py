# Renames the athlete → manager permission model away from OAuth's word "grant". The table is
# renamed in place (rows kept); index and constraint get matching names.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("users", "0003_username_unique_ignoring_case"),
    ]

    operations = [
        migrations.RenameModel(old_name="Grant", new_name="AthletePermission"),
        migrations.AlterModelOptions(
            name="athletepermission",
            options={"verbose_name": "athlete permission"},
        ),
        migrations.AlterField(
            model_name="athletepermission",
            name="athlete",
            field=models.ForeignKey(
                help_text="The athlete whose data this permission opens.",
                on_delete=django.db.models.deletion.CASCADE,
                related_name="permissions_given",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="athletepermission",
            name="manager",
            field=models.ForeignKey(
                help_text="The manager who receives the permission.",
                on_delete=django.db.models.deletion.CASCADE,
                related_name="permissions_received",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="athletepermission",
            name="granted_by",
            field=models.ForeignKey(
                blank=True,
                help_text="Who granted the permission: the athlete, an admin, or the manager "
                "holding SHARE.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="permissions_granted",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="athletepermission",
            name="derived_from",
            field=models.ForeignKey(
                blank=True,
                help_text="The SHARE permission this READ permission was granted under; it never "
                "outlives it.",
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="derived_permissions",
                to="users.athletepermission",
            ),
        ),
        migrations.RenameIndex(
            model_name="athletepermission",
            new_name="permission_lookup_idx",
            old_name="grant_lookup_idx",
        ),
        migrations.RemoveConstraint(
            model_name="athletepermission",
            name="grant_window_not_empty",
        ),
        migrations.AddConstraint(
            model_name="athletepermission",
            constraint=models.CheckConstraint(
                condition=models.Q(("expiration_time__gt", models.F("start_time"))),
                name="permission_window_not_empty",
            ),
        ),
    ]
