"""A small project that uses omnitenant as its users would, checked by ``mypy --strict``.

Every module is ordinary application code: a tenant and a domain model, a resolver, a
signal receiver, a tenant-aware Celery task, the context managers, the helpers and the
cache classes. The ``assert_type`` calls pin what the public API returns, and the
annotated assignments in :mod:`.conformance` prove that the library's own classes satisfy
its Protocols. ``tests/typing/test_consumer.py`` imports and runs the modules as well.

The models declare ``app_label = "consumer"``, an app that ``tests.settings`` does not
install: mypy's Django plugin accepts them as they are, and the test imports them inside
``isolate_apps`` so they never join the real app registry.
"""
