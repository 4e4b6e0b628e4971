"""Host, header and path tenant resolvers with a cached tenant lookup.

Independent of any web framework: no Django import.
"""

from omnitenant_resolvers.__about__ import __version__
from omnitenant_resolvers._hosts import MAX_HOST_LENGTH, normalize_host

__all__ = ["MAX_HOST_LENGTH", "__version__", "normalize_host"]
