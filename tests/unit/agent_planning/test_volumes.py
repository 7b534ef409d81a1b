"""Volume specs: Prefect 1's acceptance tables, and what dockyard does better."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.domain.agent.volumes import (
    Mount,
    named_volumes,
    parse_volume_spec,
    parse_volume_specs,
)
from dockyard.domain.errors import ConfigurationError, InvalidVolumeSpec


def binds(specs: list[str], host_os: str = "linux") -> tuple[list[str], list[str]]:
    mounts = parse_volume_specs(specs, host_os=host_os, working_dir="/work", home_dir="/home/me")
    return list(named_volumes(mounts)), [m.bind for m in mounts]


# Prefect 1.4.1's acceptance table for Unix hosts, as named volumes and Binds entries.
UNIX_TABLE = [
    ([], [], []),
    (["/some/path"], [], ["/some/path:/some/path:rw"]),
    (["/some/path:/ctr/path"], [], ["/some/path:/ctr/path:rw"]),
    (["/some/path:/ctr/path:ro"], [], ["/some/path:/ctr/path:ro"]),
    (["some-name:/ctr/path"], ["some-name"], ["some-name:/ctr/path:rw"]),
    (
        ["some-name:/ctr/path3", "/some/path:/ctr/path1", "/another/path:/ctr/path2:ro"],
        ["some-name"],
        ["some-name:/ctr/path3:rw", "/some/path:/ctr/path1:rw", "/another/path:/ctr/path2:ro"],
    ),
]

# ... and for Windows hosts.
WINDOWS_TABLE = [
    (["C:\\some\\path"], [], ["C:\\some\\path:/c/some/path:rw"]),
    (["//var/run/docker.sock"], [], ["//var/run/docker.sock:/var/run/docker.sock:rw"]),
    (["C:\\some\\path:/ctr/path"], [], ["C:\\some\\path:/ctr/path:rw"]),
    (["C:\\some\\path:/ctr/path:ro"], [], ["C:\\some\\path:/ctr/path:ro"]),
    (["some-name:/ctr/path"], ["some-name"], ["some-name:/ctr/path:rw"]),
    (
        ["some-name:/ctr/path3", "C:\\some\\path:/ctr/path1", "D:\\another\\path:/ctr/path2:ro"],
        ["some-name"],
        ["some-name:/ctr/path3:rw", "C:\\some\\path:/ctr/path1:rw", "D:\\another\\path:/ctr/path2:ro"],
    ),
]


@pytest.mark.parametrize(("specs", "volumes", "expected"), UNIX_TABLE)
def test_unix_acceptance_table(specs: list[str], volumes: list[str], expected: list[str]) -> None:
    assert binds(specs) == (volumes, expected)


@pytest.mark.parametrize(("specs", "volumes", "expected"), WINDOWS_TABLE)
def test_windows_acceptance_table(specs: list[str], volumes: list[str], expected: list[str]) -> None:
    assert binds(specs, "windows") == (volumes, expected)


def test_too_many_fields_is_refused_as_prefect_does() -> None:
    with pytest.raises(InvalidVolumeSpec, match="should be 'external:internal\\[:mode\\]'"):
        parse_volume_spec("/some/path:/ctr/path:rw:something-else")


@pytest.mark.parametrize(
    ("spec", "host_os", "bind"),
    [
        # Deliberate divergences from Prefect 1 (each is documented in volumes.py).
        ("./rel:/ctr", "linux", "/work/rel:/ctr:rw"),
        ("a/b:/ctr", "linux", "/work/a/b:/ctr:rw"),
        ("../up:/ctr", "linux", "/up:/ctr:rw"),
        ("~:/home", "linux", "/home/me:/home:rw"),
        ("~/data:/data:ro", "linux", "/home/me/data:/data:ro"),
        ("some-name:/ctr:ro", "linux", "some-name:/ctr:ro"),
        ("/a/../b/./c:/x/../y", "linux", "/b/c:/y:rw"),
        ("//etc:/etc2", "linux", "/etc:/etc2:rw"),
        ("/src:/dst:ro,z", "linux", "/src:/dst:ro,z"),
        ("/src:/dst:Z", "linux", "/src:/dst:Z"),
        ("/src:/dst:rslave", "linux", "/src:/dst:rslave"),
        ("vol:/dst:nocopy", "linux", "vol:/dst:nocopy"),
        ("/src:/dst:cached", "linux", "/src:/dst:cached"),
        (" /src : /dst ", "linux", "/src:/dst:rw"),
        ("C:\\p:/ctr:z", "windows", "C:\\p:/ctr:z"),
        ("C:/p:/ctr", "windows", "C:\\p:/ctr:rw"),
        ("\\\\server\\share:/ctr", "windows", "\\\\server\\share:/ctr:rw"),
        (
            "//var/run/docker.sock:/var/run/docker.sock",
            "windows",
            "//var/run/docker.sock:/var/run/docker.sock:rw",
        ),
    ],
)
def test_dockyard_reads_what_prefect_misread(spec: str, host_os: str, bind: str) -> None:
    mount = parse_volume_spec(spec, host_os=host_os, working_dir="/work", home_dir="/home/me")
    assert mount.bind == bind


def test_windows_relative_paths_use_a_windows_working_directory() -> None:
    mount = parse_volume_spec(".\\data:/data", host_os="windows", working_dir="C:\\agent")
    assert mount == Mount("C:\\agent\\data", "/data")
    with pytest.raises(InvalidVolumeSpec, match="working directory"):
        parse_volume_spec(".\\data:/data", host_os="windows", working_dir="/posix/dir")


@pytest.mark.parametrize(
    ("spec", "host_os", "message"),
    [
        ("", "linux", "empty"),
        ("   ", "windows", "empty"),
        ("name", "linux", "needs a container path"),
        ("name", "windows", "needs a container path"),
        ("a:/ctr", "linux", "not a valid volume name"),
        ("bad$name:/ctr", "linux", "not a valid volume name"),
        ("C:", "windows", "not an absolute path"),
        ("/a:rel", "linux", "not absolute"),
        ("/a:/", "linux", "over the container's /"),
        ("/a:/b:RO", "linux", "invalid mode 'RO'"),
        ("/a:/b:ro,rw", "linux", "combines ro and rw"),
        ("/a:/b:z,Z", "linux", "combines Z and z"),
        ("/a:/b:ro,", "linux", "invalid mode ''"),
        ("/a:/b:nocopy", "linux", "named volumes, not bind mounts"),
        ("vol:/b:shared", "linux", "bind mounts, not named volumes"),
        ("C:\\a:/b:bogus", "windows", "invalid mode 'bogus'"),
        ("~other/x:/y", "linux", "only ~"),
        ("/a::/b", "linux", "invalid"),
        ("x:y:z:/a:/b", "windows", "Unable to parse"),
    ],
)
def test_invalid_specs_are_refused_with_a_reason(spec: str, host_os: str, message: str) -> None:
    with pytest.raises(InvalidVolumeSpec, match=message):
        parse_volume_spec(spec, host_os=host_os, working_dir="/work", home_dir="/home/me")


def test_relative_paths_without_a_working_directory_are_refused() -> None:
    with pytest.raises(InvalidVolumeSpec, match="working directory"):
        parse_volume_spec("./x:/y")
    with pytest.raises(InvalidVolumeSpec, match="home directory"):
        parse_volume_spec("~/x:/y")


def test_one_host_path_may_go_to_several_container_paths_but_not_the_reverse() -> None:
    assert binds(["/data:/a", "/data:/b:ro"]) == ([], ["/data:/a:rw", "/data:/b:ro"])
    with pytest.raises(InvalidVolumeSpec, match="/a is mounted more than once"):
        parse_volume_specs(["/x:/a", "/y:/a/"])


def test_volume_errors_are_configuration_errors() -> None:
    # The agent refuses them at start-up, before it takes any run.
    assert issubclass(InvalidVolumeSpec, ConfigurationError)


@given(st.text(max_size=60), st.sampled_from(["linux", "windows"]))
def test_any_spec_parses_or_is_refused_as_invalid(spec: str, host_os: str) -> None:
    try:
        mount = parse_volume_spec(spec, host_os=host_os, working_dir="/w", home_dir="/h")
    except InvalidVolumeSpec:
        return
    assert mount.target.startswith("/") and mount.target != "/"
    assert ".." not in mount.target.split("/")
    assert mount.mode


path_part = st.from_regex(r"[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,8}", fullmatch=True)


@given(
    st.lists(path_part, min_size=1, max_size=4),
    st.lists(path_part, min_size=1, max_size=4),
    st.sampled_from([None, "ro", "rw", "ro,z", "Z", "rshared", "cached", "rw,delegated"]),
)
def test_absolute_binds_round_trip(host: list[str], ctr: list[str], mode: str | None) -> None:
    source, target = "/" + "/".join(host), "/" + "/".join(ctr)
    spec = f"{source}:{target}" + (f":{mode}" if mode else "")
    mount = parse_volume_spec(spec)
    assert not mount.named
    assert mount.mode == (mode or "rw")
    assert parse_volume_spec(mount.bind) == mount
