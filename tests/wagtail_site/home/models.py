"""A page type of the project."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from wagtail.models import Page
from wagtail.search import index


class HomePage(Page):
    intro = models.CharField(max_length=250, blank=True)

    search_fields: ClassVar[list[Any]] = [*Page.search_fields, index.SearchField("intro")]
    content_panels: ClassVar[list[Any]] = [*Page.content_panels, "intro"]
