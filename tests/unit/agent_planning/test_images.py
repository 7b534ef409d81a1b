"""Image references, image selection and pull decisions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.domain.agent.config import PullPolicy
from dockyard.domain.agent.images import (
    may_pull,
    parse_image_reference,
    pulls_first,
    select_image,
)
from dockyard.domain.errors import InvalidImageReference, RunRefused

SHA = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "normalized", "familiar", "registry"),
    [
        ("python", "docker.io/library/python:latest", "python", "docker.io"),
        ("python:3.11", "docker.io/library/python:3.11", "python:3.11", "docker.io"),
        (
            "prefecthq/prefect:1.4.1",
            "docker.io/prefecthq/prefect:1.4.1",
            "prefecthq/prefect:1.4.1",
            "docker.io",
        ),
        ("docker.io/library/python", "docker.io/library/python:latest", "python", "docker.io"),
        ("index.docker.io/myorg/app:2", "docker.io/myorg/app:2", "myorg/app:2", "docker.io"),
        (
            "registry-1.docker.io/myorg/app",
            "docker.io/myorg/app:latest",
            "registry-1.docker.io/myorg/app",
            "docker.io",
        ),
        ("localhost/app", "localhost/app:latest", "localhost/app", "localhost"),
        (
            "localhost:5000/team/app:v1",
            "localhost:5000/team/app:v1",
            "localhost:5000/team/app:v1",
            "localhost:5000",
        ),
        ("MyRegistry.IO/app", "myregistry.io/app:latest", "MyRegistry.IO/app", "myregistry.io"),
        ("Upper/app", "upper/app:latest", "Upper/app", "upper"),
        ("[::1]:5000/app", "[::1]:5000/app:latest", "[::1]:5000/app", "[::1]:5000"),
        (f"python@{SHA}", f"docker.io/library/python@{SHA}", f"python@{SHA}", "docker.io"),
        (f"python:3@{SHA}", f"docker.io/library/python:3@{SHA}", f"python:3@{SHA}", "docker.io"),
        ("localhost:5000", "docker.io/library/localhost:5000", "localhost:5000", "docker.io"),
        ("a__b/c-d--e.f_g", "docker.io/a__b/c-d--e.f_g:latest", "a__b/c-d--e.f_g", "docker.io"),
    ],
)
def test_references_normalise_like_docker(text: str, normalized: str, familiar: str, registry: str) -> None:
    ref = parse_image_reference(text)
    assert ref.normalized == normalized
    assert ref.familiar == familiar
    assert ref.registry == registry


@pytest.mark.parametrize(
    "text",
    [
        "",
        " python",
        "Python",
        "myorg/App",
        "python:",
        "python:-bad",
        "python@sha256:abc",
        "python@sha256:" + "a" * 63,
        "python@" + "a" * 64,
        "a//b",
        "/a",
        "a/",
        "a_-b",
        "-host.io/a",
        "host.io:port/a",
        "a" * 256,
        "py thon",
        "python:" + "t" * 129,
    ],
)
def test_invalid_references_are_refused(text: str) -> None:
    with pytest.raises(InvalidImageReference):
        parse_image_reference(text)


def test_reference_adds_latest_only_when_nothing_pins_the_image() -> None:
    assert parse_image_reference("python").reference == "python:latest"
    assert parse_image_reference("python:3").reference == "python:3"
    assert parse_image_reference(f"python@{SHA}").reference == f"python@{SHA}"


@given(st.text(max_size=80))
def test_any_text_parses_or_is_refused_as_an_invalid_reference(text: str) -> None:
    try:
        ref = parse_image_reference(text)
    except InvalidImageReference:
        return
    # What parses round-trips through its normalised and familiar forms.
    assert parse_image_reference(ref.normalized).normalized == ref.normalized
    assert parse_image_reference(ref.familiar).normalized == ref.normalized


# No "." in generated components: a dotted first component is a registry host.
component = st.from_regex(r"[a-z0-9]{1,5}(?:(?:_|__|-+)[a-z0-9]{1,4})?", fullmatch=True)


@given(
    st.lists(component, min_size=1, max_size=3),
    st.sampled_from(["", "registry.io/", "localhost:5000/", "docker.io/"]),
    st.none() | st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}", fullmatch=True),
)
def test_generated_references_keep_their_parts(parts: list[str], registry: str, tag: str | None) -> None:
    text = registry + "/".join(parts) + (f":{tag}" if tag else "")
    ref = parse_image_reference(text)
    assert ref.tag == tag
    path = "/".join(parts)
    if registry in ("", "docker.io/"):
        assert ref.registry == "docker.io"
        assert ref.path == (path if len(parts) > 1 else f"library/{path}")
    else:
        assert ref.registry == registry.rstrip("/")
        assert ref.path == path


def test_docker_storage_wins_over_the_run_config_image() -> None:
    storage = {"type": "Docker", "registry_url": "test", "image_name": "name", "image_tag": "tag"}
    assert select_image("1.4.1", storage, "other:1") == "test/name:tag"
    assert select_image("1.4.1", {**storage, "registry_url": ""}, None) == "name:tag"
    assert select_image("1.4.1", {**storage, "registry_url": "reg.io/"}, None) == "reg.io/name:tag"


def test_run_config_image_then_the_prefect_image_of_the_core_version() -> None:
    assert select_image("1.4.1", {"type": "Local"}, "my/image:1") == "my/image:1"
    assert select_image("1.4.1+0.gabc", None, None) == "prefecthq/prefect:1.4.1"
    assert select_image(None, None, None) == "prefecthq/prefect:latest"
    assert select_image("", None, None) == "prefecthq/prefect:latest"


def test_docker_storage_without_an_image_is_refused() -> None:
    with pytest.raises(RunRefused, match="Docker storage"):
        select_image("1.4.1", {"type": "Docker", "image_name": None, "image_tag": "x"}, None)


@pytest.mark.parametrize(
    ("image", "policy", "present", "expected"),
    [
        ("python", None, True, True),
        ("python:latest", None, True, True),
        ("python:3.11", None, True, False),
        ("python:3.11", None, False, True),
        (f"python@{SHA}", None, True, False),
        (f"python@{SHA}", PullPolicy.ALWAYS, True, False),
        (f"python@{SHA}", PullPolicy.ALWAYS, False, True),
        ("python:3.11", PullPolicy.ALWAYS, True, True),
        ("python", PullPolicy.IF_NOT_PRESENT, True, False),
        ("python", PullPolicy.IF_NOT_PRESENT, False, True),
        ("python", PullPolicy.NEVER, False, False),
        ("localhost:5000/app:1", PullPolicy.NEVER, False, False),
    ],
)
def test_pull_decisions(image: str, policy: PullPolicy | None, present: bool, expected: bool) -> None:
    # What a deployment does: pull first, or pull when the create finds the image missing.
    ref = parse_image_reference(image)
    assert (pulls_first(ref, policy) or (not present and may_pull(ref, policy))) is expected
