from django.conf import settings
from django.db import models
from django.db.models import Q


class SchemaType(models.TextChoices):
    ACTIVITY = "activity", "Activity"
    TIMEFRAME = "timeframe", "Timeframe"


class JsonSchema(models.Model):
    """A draft 2020-12 JSON Schema that activity `json` or timeframe `params` must satisfy.

    Rows are immutable (SPEC §5): a change is a new row whose `parent` is the previous version
    and whose `version` is one higher, so data validated against a version stays explainable.
    `activities.services.json_schema_create` is the only writer.
    """

    name = models.CharField(max_length=255)
    type = models.CharField(max_length=16, choices=SchemaType.choices)
    version = models.PositiveIntegerField(default=1)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    schema = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="json_schema_name_version"),
            # A schema is the first version of a line, or the child of the previous version.
            models.CheckConstraint(
                condition=Q(parent__isnull=True, version=1)
                | Q(parent__isnull=False, version__gt=1),
                name="json_schema_version_matches_parent",
            ),
        ]
        indexes = [models.Index(fields=["type", "name"], name="json_schema_type_name_idx")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version} ({self.type})"


class Activity(models.Model):
    """A session (match, training, run) owned by a manager; timeframes hang from it."""

    name = models.CharField(max_length=255)
    json = models.JSONField(default=dict, blank=True)
    json_schema = models.ForeignKey(JsonSchema, on_delete=models.PROTECT, related_name="activities")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="activities"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "activities"
        indexes = [
            models.Index(fields=["owner", "created_at"], name="activity_owner_created_idx"),
            models.Index(fields=["created_at"], name="activity_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} (#{self.pk})"
