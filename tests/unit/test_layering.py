"""The hexagon's import rules: domain/ and ports/ stay free of infrastructure."""

from __future__ import annotations

from pathlib import Path

from support.layering import (
    DOMAIN_FORBIDDEN,
    DOMAIN_LIBRARIES,
    PORTS_FORBIDDEN,
    outside_imports,
    violations,
)
from support.paths import REPO_ROOT


def test_domain_imports_no_infrastructure() -> None:
    found = violations(REPO_ROOT / "domain", "dockyard.domain", DOMAIN_FORBIDDEN)
    assert not found, "domain/ must stay pure:\n" + "\n".join(map(str, found))


def test_domain_uses_only_the_standard_library_and_its_listed_pure_libraries() -> None:
    found = outside_imports(REPO_ROOT / "domain", "dockyard.domain", DOMAIN_LIBRARIES)
    assert not found, "domain/ imports a library not on the list:\n" + "\n".join(map(str, found))


def test_the_library_rule_catches_an_unlisted_library(tmp_path: Path) -> None:
    layer = tmp_path / "domain"
    layer.mkdir()
    (layer / "ok.py").write_text("import json\nfrom croniter import croniter\nfrom dockyard import domain\n")
    (layer / "bad.py").write_text("import numpy\n")

    found = {(v.module.name, v.imported) for v in outside_imports(layer, "dockyard.domain", DOMAIN_LIBRARIES)}

    assert found == {("bad.py", "numpy")}


def test_ports_import_no_adapters_or_infrastructure() -> None:
    found = violations(REPO_ROOT / "ports", "dockyard.ports", PORTS_FORBIDDEN)
    assert not found, "ports/ must not depend on adapters or I/O:\n" + "\n".join(map(str, found))


def test_checker_catches_direct_relative_and_nested_violations(tmp_path: Path) -> None:
    layer = tmp_path / "domain"
    (layer / "sub").mkdir(parents=True)
    (layer / "__init__.py").write_text("")
    (layer / "ok.py").write_text("import re\nfrom dataclasses import dataclass\n")
    (layer / "direct.py").write_text("import docker.errors\n")
    (layer / "sub" / "__init__.py").write_text("")
    (layer / "sub" / "relative.py").write_text("from ...adapters import docker_runtime\n")
    (layer / "sub" / "lazy.py").write_text("def f():\n    from http import client\n")
    (layer / "sub" / "from_namespace.py").write_text("from dockyard import entrypoints\n")

    found = {(v.module.name, v.imported) for v in violations(layer, "dockyard.domain", DOMAIN_FORBIDDEN)}

    assert ("direct.py", "docker.errors") in found
    assert ("relative.py", "dockyard.adapters") in found
    assert ("lazy.py", "http") in found
    assert ("from_namespace.py", "dockyard.entrypoints") in found
    assert not any(name == "ok.py" for name, _ in found)
