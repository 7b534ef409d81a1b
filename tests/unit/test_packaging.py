"""The distribution installs one import package, `dockyard`, and nothing at top level."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from support.paths import REPO_ROOT

LAYERS = ("domain", "ports", "adapters", "entrypoints")


def _declared_packages() -> set[str]:
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    return set(config["tool"]["setuptools"]["packages"])


def test_every_package_folder_is_declared() -> None:
    # setuptools only installs what is listed; a forgotten sub-package would import fine
    # from a checkout and be missing from the wheel.
    on_disk = {
        "dockyard." + ".".join(init.parent.relative_to(REPO_ROOT).parts)
        for layer in LAYERS
        for init in (REPO_ROOT / layer).rglob("__init__.py")
    }
    assert on_disk == _declared_packages()


def test_wheel_holds_only_the_dockyard_namespace(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(REPO_ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("dockyard-*.whl")
    top_level = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert top_level == {"dockyard", wheel.name.split("-py3")[0] + ".dist-info"}
    names = zipfile.ZipFile(wheel).namelist()
    assert "dockyard/domain/errors.py" in names
    assert "dockyard/entrypoints/cli.py" in names
    # The dashboard's templates and assets ship in the wheel (package-data).
    dashboard = "dockyard/adapters/dashboard/"
    templates = {n for n in names if n.startswith(dashboard + "templates/")}
    assert {dashboard + "templates/base.html", dashboard + "templates/run.html"} <= templates
    assert {dashboard + f"static/{f}" for f in ("dashboard.js", "dashboard.css", "favicon.svg")} <= set(names)


def test_layer_names_are_not_importable_at_top_level(tmp_path: Path) -> None:
    for layer in LAYERS:
        result = subprocess.run(
            [sys.executable, "-c", f"import {layer}"], cwd=tmp_path, capture_output=True, text=True
        )
        assert result.returncode != 0, f"`import {layer}` must fail outside the repository"
        assert "ModuleNotFoundError" in result.stderr
    ok = subprocess.run(
        [sys.executable, "-c", "import dockyard.domain, dockyard.entrypoints.cli"], cwd=tmp_path
    )
    assert ok.returncode == 0
