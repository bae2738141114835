"""``openmem serve``: any provider as an Open Memory Protocol (OMP 0.1) HTTP server.

>>> from openmem.server import ServerSettings, create_app
>>> app = create_app(ServerSettings(auth=False), provider=InMemoryProvider())

Run it with ``openmem serve`` (or any ASGI server). See ``spec/omp.md`` for the protocol and
``spec/openapi.yaml`` for the routes.
"""

from openmem.server.app import create_app
from openmem.server.keys import ApiKey, KeyStore
from openmem.server.settings import ServerSettings, load_server_settings

__all__ = ["ApiKey", "KeyStore", "ServerSettings", "create_app", "load_server_settings"]
