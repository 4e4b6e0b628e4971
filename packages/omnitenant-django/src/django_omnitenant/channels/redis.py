"""``TenantRedisChannelLayer``: channels-redis' layer with group names per tenant.

Needs channels-redis: ``pip install "omnitenant-django[channels-redis]"``::

    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "django_omnitenant.channels.redis.TenantRedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:6379/0"]},
        },
    }
"""

from __future__ import annotations

try:
    from channels_redis.core import RedisChannelLayer
except ImportError as exc:  # pragma: no cover - the test envs install channels-redis
    raise ImportError(
        "django_omnitenant.channels.redis needs channels-redis: install it with "
        "pip install 'omnitenant-django[channels-redis]'."
    ) from exc

from django_omnitenant.channels._groups import TenantGroupsMixin

__all__ = ["TenantRedisChannelLayer"]


class TenantRedisChannelLayer(TenantGroupsMixin, RedisChannelLayer):
    """channels-redis' ``RedisChannelLayer`` with group names per tenant."""
