"""The Celery app of the worker tests: Redis (DB 14) as broker and result backend.

The test session starts a real worker on this module (``celery -A
tests.celery.celery_app worker``). Each session uses a queue of its own, named in the
environment so that the worker, started as a child process, consumes exactly what this
session sends; stale messages of an earlier, interrupted run are never picked up.
"""

from __future__ import annotations

import os
import uuid
from typing import Final

from celery import Celery

from django_omnitenant.patches.celery import install

REDIS_URL: Final = "redis://127.0.0.1:6379/14"
QUEUE: Final = os.environ.setdefault(
    "OMNITENANT_CELERY_QUEUE", f"omnitenant-tests-{uuid.uuid4().hex[:12]}"
)

# Not the current app: the unit tests create apps of their own in the same process.
app = Celery("omnitenant_tests", set_as_current=False)
app.conf.update(
    broker_url=REDIS_URL,
    result_backend=REDIS_URL,
    task_default_queue=QUEUE,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=600,
    broker_connection_retry_on_startup=True,
    include=["tests.celery.tasks"],
)
install(app)
