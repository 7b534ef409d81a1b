"""The RunStore on SQLite: one file, WAL, serialised writers, a connection per thread."""

from dockyard.adapters.sqlite.store import SqliteRunStore

__all__ = ["SqliteRunStore"]
