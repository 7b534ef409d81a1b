"""Telling a PostgreSQL URL from a SQLite file, and showing one without its password.

Importing this loads no database driver: every command of the CLI reads ``--db``.
"""

from __future__ import annotations

SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(location: str) -> bool:
    return location.startswith(SCHEMES)


def redacted(url: str) -> str:
    """``postgresql://user@host:port/db`` (the socket directory as host), never the password."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except Exception:  # a malformed URL: say only what kind it is
        return "postgresql://(unreadable URL)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = str(parts.get("host") or "")
    port = f":{parts['port']}" if parts.get("port") else ""
    where = f"{host}{port}" if not host.startswith("/") else f"[{host}]{port}"
    return f"postgresql://{user}{where}/{parts.get('dbname') or ''}"
