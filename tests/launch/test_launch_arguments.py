"""Launch arguments, substitutions and conditions, checked without starting anything."""

from __future__ import annotations

import pytest

from robotfleet_nodes.launch import (
    DeclareLaunchArgument,
    ExecuteProcess,
    GroupAction,
    IfCondition,
    LaunchDescription,
    LaunchError,
    LogInfo,
    SetEnvironmentVariable,
    SetLaunchConfiguration,
    UnlessCondition,
    describe_launch,
)


def _desc() -> LaunchDescription:
    return LaunchDescription(
        [
            DeclareLaunchArgument("robots", default="3", description="how many"),
            DeclareLaunchArgument("mode", default="sim", choices=["sim", "real"]),
            LogInfo("robots=$(var robots) mode=$(var mode)"),
        ]
    )


def test_defaults_apply_and_overrides_win() -> None:
    assert describe_launch(_desc())["log"] == ["robots=3 mode=sim"]
    out = describe_launch(_desc(), {"robots": "1000", "mode": "real"})
    assert out["log"] == ["robots=1000 mode=real"]
    assert out["arguments"] == {"mode": "real", "robots": "1000"}


def test_unknown_argument_names_it_and_the_declared_ones() -> None:
    desc = LaunchDescription([DeclareLaunchArgument("robots", default="1"), LogInfo("$(var robts)")])
    with pytest.raises(LaunchError, match=r"unknown launch argument 'robts' \(declared: robots\)"):
        describe_launch(desc)


def test_required_argument_and_choices() -> None:
    with pytest.raises(LaunchError, match="'zone' is required: pass zone:=VALUE"):
        describe_launch(LaunchDescription([DeclareLaunchArgument("zone")]))
    with pytest.raises(LaunchError, match="expected one of sim, real"):
        describe_launch(_desc(), {"mode": "mars"})
    optional = LaunchDescription([DeclareLaunchArgument("driver", default="", choices=["", "sim", "dds"])])
    assert describe_launch(optional)["arguments"] == {"driver": ""}
    with pytest.raises(LaunchError, match="expected one of '', sim, dds"):
        describe_launch(optional, {"driver": "ros"})


def test_conditions_and_let_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RFOS_TEST_HOME", "/home/x")
    desc = LaunchDescription(
        [
            DeclareLaunchArgument("sim", default="True"),
            SetLaunchConfiguration("greeting", "hi $(env RFOS_TEST_HOME)"),
            SetEnvironmentVariable("ZONE", "zone-$(var sim)"),
            LogInfo("$(var greeting) $(env ZONE) $(env NOPE_UNSET fallback)"),
            ExecuteProcess(["/bin/true"], name="sim_only", condition=IfCondition("$(var sim)")),
            ExecuteProcess(["/bin/true"], name="real_only", condition=UnlessCondition("$(var sim)")),
            GroupAction([SetLaunchConfiguration("greeting", "inner")], condition=IfCondition("1")),
            LogInfo("$(var greeting)"),
        ]
    )
    out = describe_launch(desc)
    assert out["log"] == ["hi /home/x zone-True fallback", "hi /home/x"], "scoped group does not leak"
    assert [p["name"] for p in out["processes"]] == ["sim_only"]
    assert out["processes"][0]["env"] == {"ZONE": "zone-True"}
    assert [p["name"] for p in describe_launch(desc, {"sim": "0"})["processes"]] == ["real_only"]
    with pytest.raises(LaunchError, match="'maybe' is not a boolean"):
        describe_launch(desc, {"sim": "maybe"})


def test_unset_env_without_default_and_unknown_substitution() -> None:
    with pytest.raises(LaunchError, match="'RFOS_SURELY_UNSET' is not set"):
        describe_launch(LaunchDescription([LogInfo("$(env RFOS_SURELY_UNSET)")]))
    with pytest.raises(LaunchError, match="unsupported substitution"):
        describe_launch(LaunchDescription([LogInfo("$(no-such-substitution x)")]))
