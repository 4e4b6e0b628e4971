"""The omnitenant PostgreSQL engine: ``ENGINE = "omnitenant_backends.postgresql"``.

Django's PostgreSQL backend plus one thing: each connection follows the tenant context by
setting ``search_path`` lazily. See :class:`omnitenant_backends.postgresql.base.DatabaseWrapper`.
"""
