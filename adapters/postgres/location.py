"""Telling a PostgreSQL URL from a SQLite file, and showing one without its password."""

from __future__ import annotations

from psycopg.conninfo import conninfo_to_dict

SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(location: str) -> bool:
    return location.startswith(SCHEMES)


def redacted(url: str) -> str:
    """``postgresql://user@host:port/db`` (the socket directory as host), never the password."""
    try:
        parts = conninfo_to_dict(url)
    except Exception:  # a malformed URL: say only what kind it is
        return "postgresql://(unreadable URL)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = str(parts.get("host") or "")
    port = f":{parts['port']}" if parts.get("port") else ""
    where = f"{host}{port}" if not host.startswith("/") else f"[{host}]{port}"
    return f"postgresql://{user}{where}/{parts.get('dbname') or ''}"
