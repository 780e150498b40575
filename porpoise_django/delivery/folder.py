"""Where a project's spool lives, and the rules the folder must follow.

The folder is ``<base>/<prefix>-<digest>``: ``base`` is ``SPOOL_DIR``, or
``porpoise-django`` in the user's cache folder (``$XDG_CACHE_HOME`` or
``~/.cache``; never the system's temporary folder, whose cleaners delete
files of live processes), and the digest is of the target: the key prefix and
the Redis server (URL without credentials, or the cache's location). Two
projects, or one project pointed at another server, never share a folder.

Created with mode 0700. A folder owned by another user, or writable by group or
others, is refused (``porpoise_django.E010``): anyone who can write there
could plant writes that this project would replay as its own.

>>> project_folder()
PosixPath('/...')
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import tempfile
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings

from porpoise_django.conf import porpoise_settings

CHECK_ID = "porpoise_django.E010"


class UnsafeFolder(Exception):
    """The spool folder may not be used (owner, mode); the message says why."""


def base_folder() -> Path:
    """``SPOOL_DIR``, or ``porpoise-django`` in the user's cache folder."""
    configured = porpoise_settings.SPOOL_DIR
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "porpoise-django"


def _clean_url(url: str) -> str:
    """A Redis URL without its user's password (nor a ``password=`` parameter)."""
    try:
        parts = urlsplit(str(url))
        port = parts.port
    except ValueError:
        return str(url)
    host = parts.hostname or ""
    netloc = f"{host}:{port}" if port else host
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k.lower() != "password"])
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def redis_target() -> str:
    """The Redis server the writes go to, from the settings (no connection made)."""
    url = porpoise_settings.REDIS_URL
    if url:
        cluster = " cluster" if porpoise_settings.REDIS_CLUSTER else ""
        # A cluster's REDIS_URL may list its nodes (a list, or text with commas).
        urls = url.split(",") if isinstance(url, str) else [str(u) for u in url]
        return ",".join(_clean_url(u.strip()) for u in urls if u.strip()) + cluster
    alias = porpoise_settings.CACHE_ALIAS
    caches = getattr(settings, "CACHES", {}) or {}
    location = (caches.get(alias) or {}).get("LOCATION", "")
    locations = location if isinstance(location, (list, tuple)) else [location]
    return "cache " + ",".join(_clean_url(str(loc)) for loc in locations)


def target() -> str:
    """What every spooled row records: the key prefix and the Redis server."""
    return f"{porpoise_settings.KEY_PREFIX} {redis_target()}"


def project_folder() -> Path:
    """This project's spool folder (not created)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]", "_", str(porpoise_settings.KEY_PREFIX))[:40] or "pp"
    digest = hashlib.sha256(target().encode()).hexdigest()[:16]
    return base_folder() / f"{slug}-{digest}"


def problem(path: Path, *, strict: bool = True) -> str | None:
    """Why the existing folder ``path`` is unsafe (None: it is safe). ``strict``:
    the project's own folder; else its parent, which may be shared if sticky
    (like ``/tmp``) and may belong to root."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(info.st_mode):
        return f"{path} is not a folder"
    mode = stat.S_IMODE(info.st_mode)
    owners = {os.geteuid()} if strict else {os.geteuid(), 0}
    if info.st_uid not in owners:
        return f"{path} is owned by uid {info.st_uid}, not by this process's user ({os.geteuid()})"
    if mode & 0o022 and (strict or not mode & stat.S_ISVTX):
        return f"{path} is writable by group or others (mode {mode:o})"
    return None


def prepare(path: Path | None = None) -> Path:
    """The project folder, created (0700) if missing and checked; raises
    :class:`UnsafeFolder` (or ``OSError`` if it cannot be created)."""
    folder = project_folder() if path is None else path
    base = folder.parent
    if not base.exists():
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
    for candidate, strict in ((base, False), (folder, True)):
        if candidate == folder and not folder.exists():
            # Made by another process of ours just now (or planted: checked next).
            with contextlib.suppress(FileExistsError):
                folder.mkdir(mode=0o700)
        found = problem(candidate, strict=strict)
        if found is not None:
            raise UnsafeFolder(f"refusing the spool folder: {found} ({CHECK_ID})")
    return folder


def in_temporary_folder(path: Path) -> bool:
    """True if ``path`` is inside the system's temporary folder."""
    temp = Path(tempfile.gettempdir()).resolve()
    try:
        Path(path).resolve().relative_to(temp)
    except ValueError:
        return False
    return True
