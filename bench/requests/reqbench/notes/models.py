"""The one tenant-scoped model of the benchmark (plain Django: an ordinary table)."""

from __future__ import annotations

from django.db import models


class Note(models.Model):
    title = models.CharField(max_length=100)
    priority = models.IntegerField(default=3)

    def __str__(self) -> str:
        return self.title
