"""Launch-file parsing: arguments, let, groups/namespaces, remaps, params, substitutions, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from toponav.launching import LaunchError, parse_launch_file
from toponav.launching.parser import parse_cli_arguments
from toponav.launching.share import find_package_share

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str, name: str = "t.launch.xml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


BASIC = """<launch>
  <arg name="world" default="warehouse" description="world spec"/>
  <arg name="seed" default="3"/>
  <let name="twice" value="$(eval '$(var seed) * 2')"/>
  <set_parameter name="use_sim_time" value="true"/>
  <group>
    <push-ros-namespace namespace="robot1"/>
    <node pkg="toponav" exec="goal_controller" name="gc" output="screen" respawn="true" respawn_delay="1.5">
      <param name="world" value="$(var world)"/>
      <param name="seed" value="$(var twice)"/>
      <param name="nest"><param name="a" value="1.5"/></param>
      <param name="speeds" value="0.5,1" value-sep=","/>
      <remap from="/cmd_vel" to="/robot/cmd_vel"/>
    </node>
  </group>
  <node pkg="toponav" exec="goal_controller" on_exit="shutdown" if="$(eval '$(var seed) > 2')"/>
  <node pkg="toponav" exec="goal_controller" name="never" unless="true"/>
</launch>
"""


def test_arguments_let_group_params_remaps(tmp_path: Path) -> None:
    desc = parse_launch_file(write(tmp_path, BASIC), {"seed": "5"})
    assert [n.label for n in desc.nodes] == ["robot1/gc", "goal_controller"]
    gc, second = desc.nodes
    assert gc.namespace == "/robot1" and gc.name == "gc" and gc.output == "screen"
    assert gc.respawn and gc.respawn_delay == 1.5 and not gc.required
    assert second.required and second.namespace == "/"
    assert gc.remaps == [("/cmd_vel", "/robot/cmd_vel")]
    assert desc.configs["twice"] == "10"
    values = {}
    for src in gc.params:
        values.update(src.values)
    assert values == {"use_sim_time": True, "world": "warehouse", "seed": 10, "nest.a": 1.5, "speeds": [0.5, 1.0]}
    cmd = gc.command(tmp_path)
    assert cmd[1:4] == ["-m", "toponav.ros_nodes.entry", "goal_controller"]
    assert "__node:=gc" in cmd and "__ns:=/robot1" in cmd and "/cmd_vel:=/robot/cmd_vel" in cmd
    params_file = Path(cmd[cmd.index("--params-file") + 1])
    written = yaml.safe_load(params_file.read_text())["/**"]["ros__parameters"]
    assert written["nest"] == {"a": 1.5} and written["seed"] == 10 and written["use_sim_time"] is True


def test_defaults_and_scoping(tmp_path: Path) -> None:
    text = """<launch>
      <arg name="a" default="x"/>
      <group><let name="a" value="inner"/><node pkg="toponav" exec="goal_controller" name="n1">
        <param name="p" value="$(var a)"/></node></group>
      <group scoped="false"><let name="b" value="leak"/></group>
      <node pkg="toponav" exec="goal_controller" name="n2"><param name="p" value="$(var a)-$(var b)"/></node>
    </launch>"""
    desc = parse_launch_file(write(tmp_path, text))
    assert desc.nodes[0].params[0].values["p"] == "inner"
    assert desc.nodes[1].params[0].values["p"] == "x-leak"


def test_env_substitution_and_params_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOPONAV_TEST_VALUE", "from-env")
    (tmp_path / "p.yaml").write_text("goal_controller:\n  ros__parameters:\n    max_v: 0.3\n")
    text = """<launch>
      <node pkg="toponav" exec="goal_controller">
        <param from="$(dirname)/p.yaml"/>
        <param name="label" value="$(env TOPONAV_TEST_VALUE)"/>
        <param name="fallback" value="$(env TOPONAV_NOT_SET_ANYWHERE dflt)"/>
        <param name="share" value="$(find-pkg-share toponav)"/>
      </node>
    </launch>"""
    desc = parse_launch_file(write(tmp_path, text))
    node = desc.nodes[0]
    assert node.params[0].file == tmp_path / "p.yaml"
    assert node.params[1].values["label"] == "from-env"
    assert node.params[1].values["fallback"] == "dflt"
    assert Path(node.params[1].values["share"]) == find_package_share("toponav")
    assert (find_package_share("toponav") / "launch").is_dir()


def test_include_passes_arguments(tmp_path: Path) -> None:
    write(tmp_path, """<launch><arg name="who" default="nobody"/>
      <node pkg="toponav" exec="goal_controller" name="$(var who)"/></launch>""", "inner.launch.xml")
    outer = write(tmp_path, """<launch><arg name="n" default="alice"/>
      <group><push-ros-namespace namespace="ns"/>
      <include file="$(dirname)/inner.launch.xml"><arg name="who" value="$(var n)"/></include></group>
    </launch>""")
    desc = parse_launch_file(outer, {"n": "bob"})
    assert [n.label for n in desc.nodes] == ["ns/bob"]


@pytest.mark.parametrize(("text", "line", "words"), [
    ("<launch>\n  <node pkg='toponav' exec='goal_controller'/>\n  <executable cmd='ls'/>\n</launch>", 3,
     "unsupported tag <executable>"),
    ("<launch>\n\n  <node pkg='toponav' exec='goal_controller' launch-prefix='gdb'/>\n</launch>", 3,
     "unsupported attribute 'launch-prefix'"),
    ("<launch>\n  <node pkg='toponav' exec='goal_controller'>\n  </nod>\n</launch>", 3, "malformed XML"),
    ("<launch>\n  <arg name='needed'/>\n</launch>", 2, "launch argument 'needed' is required"),
    ("<launch>\n  <let name='x' value='$(var nope)'/>\n</launch>", 2, "'nope' is not set"),
    ("<launch>\n  <let name='x' value=\"$(eval '__import__(1)')\"/>\n</launch>", 2, "only literals"),
    ("<launch>\n  <node pkg='toponav' exec='goal_controller' respawn='maybe'/>\n</launch>", 2, "expected a boolean"),
])
def test_errors_name_file_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(LaunchError) as info:
        parse_launch_file(path)
    assert info.value.line == line, str(info.value)
    assert words in str(info.value)
    assert str(info.value).startswith(f"{path}:{line}:")


def test_unknown_argument_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, BASIC)
    with pytest.raises(LaunchError, match="unknown launch argument 'sed'"):
        parse_launch_file(path, {"sed": "1"})
    with pytest.raises(LaunchError, match="name:=value"):
        parse_cli_arguments(["seed=3"])


def test_missing_executable_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "<launch><node pkg='toponav' exec='no_such_node'/></launch>")
    desc = parse_launch_file(path)
    with pytest.raises(LaunchError, match="no executable 'no_such_node'"):
        desc.nodes[0].command(tmp_path)


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "launch").glob("*.launch.xml")))
def test_shipped_launch_files_parse(name: str) -> None:
    args = {"bag": "/tmp/some_bag"} if name.startswith("bag_replay") else {}
    desc = parse_launch_file(ROOT / "launch" / name, args)
    assert desc.nodes, name
    for node in desc.nodes:
        assert node.package == "toponav"
