"""Integrations with other frameworks, each switched on explicitly in settings.

Nothing here patches anything at import time: ``patches.cache`` holds cache backend
classes to name in ``CACHES``, ``patches.celery`` a task base class. Import the module you
use; importing this package imports neither.
"""
