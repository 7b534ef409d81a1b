"""reg_allow_list and allow_images: normalised, whole-component, checked on every use."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.domain.agent.image_policy import (
    check_image_allowed,
    parse_image_pattern,
    parse_registry_entry,
)
from dockyard.domain.agent.images import parse_image_reference
from dockyard.domain.errors import ConfigurationError, RunRefused

SHA = "sha256:" + "b" * 64


def check(image: str, registries: list[str], patterns: list[str]) -> None:
    """The check as the agent makes it: on the entries and patterns read from its settings."""
    check_image_allowed(
        parse_image_reference(image),
        [parse_registry_entry(entry) for entry in registries],
        [parse_image_pattern(pattern) for pattern in patterns],
    )


def allowed(image: str, registries: list[str] = [], patterns: list[str] = []) -> bool:  # noqa: B006
    try:
        check(image, registries, patterns)
    except RunRefused:
        return False
    return True


@pytest.mark.parametrize(
    ("entry", "image", "expected"),
    [
        ("myregistry.io", "myregistry.io/team/app:1", True),
        ("MyRegistry.IO", "myregistry.io/app", True),
        ("myregistry.io", "MYREGISTRY.io/app", True),
        ("myregistry.io", "myregistry.io.evil.com/app", False),
        ("myregistry.io", "evil.com/myregistry.io/app", False),
        ("localhost:5000", "localhost:5000/app", True),
        ("localhost:5000", "localhost:5001/app", False),
        ("localhost:5000", "localhost/app", False),
        ("localhost", "localhost/app", True),
        ("localhost:5000/team", "localhost:5000/team/app", True),
        ("localhost:5000/team", "localhost:5000/teamevil/app", False),
        ("myorg", "myorg/app:1", True),
        ("myorg", "docker.io/myorg/app", True),
        ("myorg", "index.docker.io/myorg/app", True),
        ("myorg", "myorgevil/x", False),
        ("myorg", "myorg.io/app", False),
        ("myorg", "python", False),
        ("prefecthq", "prefecthq/prefect:1.4.1", True),
        ("docker.io", "python:3.11", True),
        ("index.docker.io", "python", True),
        ("registry-1.docker.io", "myorg/app", True),
        ("docker.io", "registry-1.docker.io/library/python", True),
        ("docker.io/library", "python", True),
        ("docker.io/library", "myorg/app", False),
        ("library", "python", True),
        ("https://myregistry.io/", "myregistry.io/app", True),
    ],
)
def test_registry_entries_match_whole_components(entry: str, image: str, expected: bool) -> None:
    assert allowed(image, registries=[entry]) is expected


def test_an_unlisted_registry_is_refused_with_the_setting_that_allows_it() -> None:
    with pytest.raises(RunRefused) as refused:
        check("evil.io/app:1", ["myregistry.io"], [])
    message = str(refused.value)
    assert "evil.io/app:1" in message
    assert "reg_allow_list" in message
    assert "--reg-allow-list evil.io" in message
    with pytest.raises(
        RunRefused, match=r"docker.io/library/python:latest.*--reg-allow-list docker.io/library"
    ):
        check("python", ["myorg"], [])


@pytest.mark.parametrize("entry", ["", "  ", "My_Org", "bad host.io", "-x.io", "a//b", "myorg/"])
def test_invalid_registry_entries_are_configuration_errors(entry: str) -> None:
    if entry == "myorg/":  # a trailing slash is harmless
        assert parse_registry_entry(entry).prefix == ("myorg",)
        return
    with pytest.raises(ConfigurationError):
        parse_registry_entry(entry)


@pytest.mark.parametrize(
    ("pattern", "image", "expected"),
    [
        ("docker.io/library/*", "python:3.11", True),
        ("docker.io/library/*", "myorg/app", False),
        ("docker.io/library/*", "docker.io/library/a/b", False),
        ("docker.io/**", "myorg/team/app", True),
        ("localhost:5000/team/**", "localhost:5000/team/a/b:1", True),
        ("localhost:5000/team/**", "localhost:5000/other/a", False),
        ("*:1.2", "python:1.2", True),
        ("*:1.2", "python:1.3", False),
        ("*:1.2", "myorg/app:1.2", False),
        ("python", "python:3", True),
        ("python", f"python@{SHA}", True),
        ("python:*", "python", True),
        ("python:*", f"python@{SHA}", False),
        (f"python@{SHA}", f"python@{SHA}", True),
        (f"python@{SHA}", "python:3", False),
        (f"docker.io/library/python@{SHA}", f"python:3@{SHA}", True),
        ("myorg/*", "myorg/app", True),
        ("myorg/*", "myorgevil/app", False),
        ("*/*", "myorg/app", True),
        ("*/*", "localhost:5000/app", False),
        ("**", "localhost:5000/a/b:1", True),
        ("*.example.com/**", "reg.example.com/a/b", True),
        ("*.example.com/**", "example.com.evil.io/a", False),
        ("MyReg.io/app", "myreg.io/app:1", True),
        ("index.docker.io/library/python", "python", True),
    ],
)
def test_image_patterns(pattern: str, image: str, expected: bool) -> None:
    assert allowed(image, patterns=[pattern]) is expected


def test_both_lists_must_allow_and_the_refusal_names_the_pattern_setting() -> None:
    assert allowed("myorg/app", ["myorg"], ["myorg/*"])
    assert not allowed("myorg/app", ["myorg"], ["docker.io/library/*"])
    with pytest.raises(RunRefused, match=r"allow_images.*--allow-image docker.io/myorg/app"):
        check("myorg/app", [], ["other/*"])


@pytest.mark.parametrize("pattern", ["", "a b", "python:", "python@", "***", "py?thon"])
def test_invalid_patterns_are_configuration_errors(pattern: str) -> None:
    with pytest.raises(ConfigurationError):
        parse_image_pattern(pattern)


@given(st.text(max_size=40), st.text(max_size=40))
def test_entries_and_patterns_never_crash(entry: str, pattern: str) -> None:
    ref = parse_image_reference("localhost:5000/team/app:1")
    for parse in (parse_registry_entry, parse_image_pattern):
        try:
            parsed = parse(entry if parse is parse_registry_entry else pattern)
        except ConfigurationError:
            continue
        assert isinstance(parsed.covers(ref) if hasattr(parsed, "covers") else parsed.matches(ref), bool)
