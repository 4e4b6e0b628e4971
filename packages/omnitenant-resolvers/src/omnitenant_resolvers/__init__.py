"""Host, header and path tenant resolvers with a cached tenant lookup.

Independent of any web framework: no Django import.
"""

from omnitenant_resolvers.__about__ import __version__

__all__ = ["__version__"]
