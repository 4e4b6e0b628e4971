"""Tenant-scoped models of the test project (present in every tenant, never in master).

``Note`` carries what a schema clone must reproduce: an identity primary key (sequence),
a default, a check constraint, a unique constraint, an index and a foreign key.
"""

from __future__ import annotations

from django.db import models


class Notebook(models.Model):
    title = models.CharField(max_length=100, unique=True)

    def __str__(self) -> str:
        return self.title


class Note(models.Model):
    notebook = models.ForeignKey(Notebook, on_delete=models.CASCADE, null=True, blank=True)
    text = models.CharField(max_length=200)
    priority = models.IntegerField(default=3)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = (models.Index(fields=["text"], name="note_text_idx"),)
        constraints = (
            models.CheckConstraint(
                condition=models.Q(priority__gte=1, priority__lte=5), name="note_priority_range"
            ),
        )

    def __str__(self) -> str:
        return self.text
