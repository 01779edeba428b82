"""``$(...)`` substitutions in ROS 2's XML/YAML syntax: a table of cases, then files."""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

import pytest
from test_executables import make_prefix

from robotfleet_nodes.launch import LaunchError, describe_launch, load_launch_file
from robotfleet_nodes.launch.substitutions import substitute

VARS = {"n": "3", "name": "robot 7", "raw": "$(env HOME)", "edges": "composed"}


def _var(name: str) -> str:
    try:
        return VARS[name]
    except KeyError:
        raise LaunchError(f"unknown launch argument {name!r}") from None


def sub(text: str, env: dict[str, str] | None = None, source: Path | None = None) -> str:
    return substitute(text, _var, env, source=source)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain (text) with 'quotes'", "plain (text) with 'quotes'"),
        ("robot-$(var n)", "robot-3"),
        ("$(equals $(var edges) composed)", "true"),
        ("$(not-equals $(var edges) composed)", "false"),
        ("$(env RFOS_TEST_SUB_UNSET fallback)", "fallback"),
        ("$(env RFOS_TEST_SUB_UNSET 'two words')", "two words"),
        ("$(eval '1 + (2 * 3)')", "7"),
        ("$(eval '$(var n) * 2')", "6"),
        ("$(eval 'floor(pi)')", "3"),  # math's names bare, as in ROS 2
        ("$(eval 'math.sqrt(16)')", "4.0"),
        ("$(eval \"'$(var name)'.upper()\")", "ROBOT 7"),
        ("$(eval 'os.sep' os)", os.sep),
        ("$(eval '$(var n) > 2')", "True"),
        ("$(command 'echo hi there')", "hi there\n"),
        ("$(command \"printf '%s|' a 'b c'\")", "a|b c|"),
        ("$(var raw)", "$(env HOME)"),  # a substituted value is not scanned again
        (r"$(eval '\'it\' + chr(115)')", "its"),
    ],
)
def test_substitutions(text: str, expected: str) -> None:
    assert sub(text) == expected


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("$(no-such x)", r"unsupported substitution '\$\(no-such x\)': use one of .*\$\(find-pkg-share"),
        ("$(var n", r"'\$\(' is never closed"),
        ("$(eval 'oops)", r"the quote ' is never closed"),
        ("$(var)", r"expected \$\(var NAME\)"),
        ("$(var a b)", r"expected \$\(var NAME\)"),
        ("$(equals a)", r"expected \$\(equals A B\)"),
        ("$(eval '1/0')", r"failed: ZeroDivisionError"),
        ("$(command 'false')", r"'false' exited with 1"),
        ("$(command 'sh -c \"echo out; echo bad >&2\"')", r"wrote to stderr \(bad\); add 'ignore'"),
        ("$(command 'no-such-program-rfos')", r"failed: .*No such file"),
        ("$(command 'echo' sometimes)", r"one of fail, ignore, warn, capture"),
        ("$(file-content /no/such/file)", r"failed: .*No such file"),
        ("$(find-pkg-share rfos_no_such_pkg)", r"package 'rfos_no_such_pkg' not found, searching"),
        ("$(dirname)", r"no launch file is being visited"),
    ],
)
def test_bad_substitutions(text: str, error: str) -> None:
    with pytest.raises(LaunchError, match=error):
        sub(text)


def test_command_stderr_options_and_launch_env() -> None:
    both = "$(command 'sh -c \"echo out; echo err >&2\"' {})"
    assert sub(both.format("ignore")) == "out\n"
    assert sub(both.format("warn")) == "out\n"
    assert sorted(sub(both.format("capture")).split()) == ["err", "out"]
    assert sub("$(command 'sh -c \"echo $RFOS_TEST_SUB\"')", env={"RFOS_TEST_SUB": "from set_env"}) == (
        "from set_env\n"
    )


def test_package_paths_from_the_ament_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = make_prefix(tmp_path / "install", "demo_pkg", {"hello": ""})
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(prefix))
    assert sub("$(find-pkg-share demo_pkg)/launch/x.yaml") == f"{prefix}/share/demo_pkg/launch/x.yaml"
    assert sub("$(find-pkg-prefix demo_pkg)") == str(prefix)
    assert sub("$(exec-in-pkg hello demo_pkg)") == str(prefix / "lib" / "demo_pkg" / "hello")
    with pytest.raises(LaunchError, match=r"has no executable 'bye'"):
        sub("$(exec-in-pkg bye demo_pkg)")
    assert sub("$(find-exec sh)") == shutil.which("sh")


def test_files_and_the_launch_file_folder(tmp_path: Path) -> None:
    (tmp_path / "robot.urdf").write_text("<robot name='r'/>", encoding="utf-8")
    source = tmp_path / "demo.launch.yaml"
    assert sub("$(file-content robot.urdf)", source=source) == "<robot name='r'/>"
    assert sub("$(file-content $(dirname)/robot.urdf)", source=source) == "<robot name='r'/>"
    assert sub("$(filename)", source=source) == str(source.resolve())


def test_in_yaml_and_xml_launch_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = make_prefix(tmp_path / "install", "demo_pkg", {})
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(prefix))
    (tmp_path / "greeting.txt").write_text("hello", encoding="utf-8")
    yaml_file = tmp_path / "s.launch.yaml"
    yaml_file.write_text(
        textwrap.dedent(
            """\
            launch:
              - arg: {name: n, default: "4"}
              - log: {message: "$(find-pkg-share demo_pkg)"}
              - log: {message: "$(file-content greeting.txt) $(eval '$(var n) ** 2') $(command 'echo x')"}
            """
        ),
        encoding="utf-8",
    )
    xml_file = tmp_path / "s.launch.xml"
    xml_file.write_text(
        textwrap.dedent(
            """\
            <launch>
              <arg name="n" default="4"/>
              <log message="$(find-pkg-share demo_pkg)"/>
              <log message="$(file-content greeting.txt) $(eval '$(var n) ** 2') $(command 'echo x')"/>
            </launch>
            """
        ),
        encoding="utf-8",
    )
    for path in (yaml_file, xml_file):
        out = describe_launch(load_launch_file(path), {}, source=path)
        assert out["log"] == [str(prefix / "share" / "demo_pkg"), "hello 16 x\n"], path
