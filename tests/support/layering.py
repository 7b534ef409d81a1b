"""Import rules of the hexagon, checked by walking each module's AST."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Infrastructure the domain must never touch: I/O, frameworks, and the outer layers.
DOMAIN_FORBIDDEN = frozenset(
    {
        "docker", "requests", "urllib3", "click", "pydantic", "pydantic_settings",
        "dependency_injector", "sqlite3", "http", "socket", "socketserver", "urllib", "ssl",
        "selectors", "asyncio", "subprocess", "os", "shutil", "pathlib", "io", "tempfile",
        "waitress", "graphql", "testcontainers", "multiprocessing", "signal",
        "dockyard.adapters", "dockyard.entrypoints",
    }
)  # fmt: skip
PORTS_FORBIDDEN = DOMAIN_FORBIDDEN

# The only libraries outside the standard library the domain may use: pure computation
# (no I/O, no framework) that it would otherwise have to write itself. A new one is added
# here on purpose, never by accident.
DOMAIN_LIBRARIES = frozenset(
    {
        "slugify",  # container names (python-slugify)
        "croniter",  # cron schedules
        "dateutil",  # iCalendar recurrence rules (python-dateutil)
    }
)


@dataclass(frozen=True)
class Violation:
    module: Path
    line: int
    imported: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.imported}"


def _package_of(path: Path, root: Path, namespace: str) -> list[str]:
    """The dotted package a module belongs to, as parts (a package's __init__ included)."""
    return [*namespace.split("."), *path.relative_to(root).parent.parts]


def imported_names(path: Path, root: Path, namespace: str) -> Iterator[tuple[int, str]]:
    """Absolute names a module imports; relative imports resolved against ``namespace``,
    the dotted package ``root`` is installed as."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _package_of(path, root, namespace)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            yield node.lineno, name
            for alias in node.names:
                yield node.lineno, f"{name}.{alias.name}"


def _forbidden(name: str, rules: frozenset[str]) -> bool:
    return any(name == rule or name.startswith(rule + ".") for rule in rules)


def violations(layer_dir: Path, namespace: str, rules: frozenset[str]) -> list[Violation]:
    found = []
    for path in sorted(layer_dir.rglob("*.py")):
        for line, name in imported_names(path, layer_dir, namespace):
            if _forbidden(name, rules):
                found.append(Violation(path, line, name))
    return found


def outside_imports(layer_dir: Path, namespace: str, allowed: frozenset[str]) -> list[Violation]:
    """Imports of anything but the standard library, dockyard itself and ``allowed``."""
    found = []
    for path in sorted(layer_dir.rglob("*.py")):
        for line, name in imported_names(path, layer_dir, namespace):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top in ("__future__", "dockyard") or top in allowed:
                continue
            found.append(Violation(path, line, name))
    return found
