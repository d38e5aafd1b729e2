"""The launcher's grammar against real ROS 2 launch_xml / launch_ros, and every shipped launch file against both.

Real launch is not installable here (not on PyPI), so its rules are encoded below from its sources
(ros2/launch: launch_xml/entity.py, launch/actions/*.py; ros2/launch_ros: launch_ros/actions/*.py):

* tags are the names its actions are exposed under: ``set_parameter``, ``set_remap``, ``set_env`` with
  underscores; ``push_ros_namespace`` and ``push-ros-namespace`` both; there is no ``set-parameter``;
* every attribute an action does not read is an error (``assert_entity_completely_parsed``): ``required`` on
  ``<node>`` (ROS 1), ``sep`` on ``<param>``, ``namespace`` on ``<group>`` do not exist;
* ``X-sep`` splits the *raw* attribute text of ``X`` before any substitution is parsed
  (``Entity.get_attr``: ``value = attrib[name].split(sep)``), then each piece is YAML-typed;
* a parameter value without ``value-sep`` is substituted, then YAML-typed (a YAML list stays a list);
* ``$(optenv)`` is ROS 1; ROS 2 has ``$(env NAME [DEFAULT])``;
* ``respawn`` and ``respawn_delay`` are read typed (bool, float), so they take literals, not substitutions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from toponav.launching import LaunchError, parse_launch_file
from toponav.launching.parser import _ALLOWED, Element, read_xml

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "launch").glob("*.launch.xml"))

_IF = {"if", "unless"}
#: tag -> attributes real launch_xml + launch_ros accept (only the tags toponav's launcher also knows; real
#: launch has more: executable, timer, include's let, node_container, ...). ``launch``'s root attributes are
#: not checked by real launch (parse_description reads none but 'deprecated'), so 'version' is harmless there.
REAL: dict[str, set[str]] = {
    "launch": {"version", "deprecated"},
    "arg": {"name", "default", "description", "value"} | _IF,  # value: only as an <include> child
    "let": {"name", "value"} | _IF,
    "node": {"pkg", "exec", "name", "namespace", "exec_name", "args", "ros_args", "output", "respawn",
             "respawn_delay", "on_exit", "launch-prefix", "cwd", "shell", "emulate_tty", "sigterm_timeout",
             "sigkill_timeout", "respawn_max_retries", "node-name"} | _IF,
    "param": {"name", "value", "value-sep", "from", "type", "allow_substs"},
    "remap": {"from", "to"},
    "env": {"name", "value"},
    "group": {"scoped", "forwarding", "keep"} | _IF,
    "push_ros_namespace": {"namespace"} | _IF,
    "push-ros-namespace": {"namespace"} | _IF,
    "set_parameter": {"name", "value"} | _IF,
    "set_remap": {"from", "to"} | _IF,
    "set_env": {"name", "value"} | _IF,
    "include": {"file"} | _IF,
    "log": {"message"} | _IF,
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t.launch.xml"
    path.write_text(text)
    return path


def _walk(el: Element):
    yield el
    for child in el.children:
        yield from _walk(child)


def test_launcher_accepts_nothing_real_launch_rejects() -> None:
    for tag, attrs in _ALLOWED.items():
        assert tag in REAL, f"<{tag}> is not a real launch_xml tag"
        assert attrs <= REAL[tag], f"<{tag}> accepts {sorted(attrs - REAL[tag])}, which real launch rejects"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_file_is_in_both_grammars(path: Path) -> None:
    """Every element and attribute of every shipped launch file is real launch_xml and supported here, and no
    list is built the way the two would read differently (value-sep over a substitution)."""
    for el in _walk(read_xml(path)):
        where = f"{path.name}:{el.line}"
        assert el.tag in REAL and el.tag in _ALLOWED, f"{where}: <{el.tag}>"
        assert set(el.attrs) <= REAL[el.tag] & _ALLOWED[el.tag], f"{where}: {sorted(el.attrs)}"
        for key, text in el.attrs.items():
            assert "$(optenv" not in text, where
            # launch_xml reads these typed (get_attr(data_type=bool/float)): a substitution stays a string there
            # and respawn_delay's "< 0.0" check fails on it
            assert key not in ("respawn", "respawn_delay") or "$(" not in text, f"{where}: {key} must be literal"
            if key.endswith("-sep"):
                assert "$(" not in el.attrs[key[:-4]], (
                    f"{where}: {key} splits the raw text before substitution under real launch; pass a YAML list")


@pytest.mark.parametrize(("text", "line", "words"), [
    ("<launch>\n  <node pkg='toponav' exec='goal_controller' required='true'/>\n</launch>", 2,
     "'required' is ROS 1 roslaunch; ROS 2 writes on_exit=\"shutdown\""),
    ("<launch>\n  <node pkg='toponav' exec='goal_controller'>\n    <param name='a' value='1,2' sep=','/>\n"
     "  </node>\n</launch>", 3, "unsupported attribute 'sep' on <param>"),
    ("<launch>\n\n  <group namespace='robot1'>\n  </group>\n</launch>", 3, "<push_ros_namespace"),
    ("<launch>\n  <set-parameter name='use_sim_time' value='true'/>\n</launch>", 2, "<set_parameter>"),
    ("<launch>\n  <set-remap from='a' to='b'/>\n</launch>", 2, "<set_remap>"),
    ("<launch>\n  <set-env name='A' value='b'/>\n</launch>", 2, "<set_env>"),
    ("<launch>\n  <let name='x' value='$(optenv HOME)'/>\n</launch>", 2, "$(env NAME DEFAULT)"),
    ("<launch>\n  <node pkg='toponav' exec='goal_controller'>\n    <param name='a' value='1' value-sep=''/>\n"
     "  </node>\n</launch>", 3, "value-sep must not be empty"),
])
def test_refused_with_file_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(LaunchError) as info:
        parse_launch_file(path)
    assert str(info.value).startswith(f"{path}:{line}:"), str(info.value)
    assert words in str(info.value)


def _param(tmp_path: Path, param: str, args: dict[str, str] | None = None, decl: str = "") -> object:
    path = write(tmp_path, f"<launch>{decl}<node pkg='toponav' exec='goal_controller'>{param}</node></launch>")
    values: dict[str, object] = {}
    for src in parse_launch_file(path, args).nodes[0].params:
        values.update(src.values)
    return values["p"]


def test_value_sep_splits_raw_text_before_substitution(tmp_path: Path) -> None:
    decl = "<arg name='l' default='a,b'/><arg name='x' default='3'/>"
    # the substitution is one piece: one element, whatever it expands to (this is what broke bag_replay)
    assert _param(tmp_path, "<param name='p' value='$(var l)' value-sep=','/>", decl=decl) == ["a,b"]
    # pieces are split first, then substituted and typed one by one
    assert _param(tmp_path, "<param name='p' value='1,$(var x)' value-sep=','/>", decl=decl) == [1, 3]
    assert _param(tmp_path, "<param name='p' value='a;b' value-sep=';'/>") == ["a", "b"]
    # a YAML list through an argument stays a list (the same under both launchers)
    decl = "<arg name='l' default='[/scan, /odom]'/>"
    assert _param(tmp_path, "<param name='p' value='$(var l)'/>", decl=decl) == ["/scan", "/odom"]
    assert _param(tmp_path, "<param name='p' value='$(var l)'/>", {"l": "[/scan]"}, decl) == ["/scan"]


def _node_params(desc, executable: str) -> dict[str, object]:
    node = next(n for n in desc.nodes if n.executable == executable)
    values: dict[str, object] = {}
    for src in node.params:
        values.update(src.values)
    return values


def test_shipped_list_parameters() -> None:
    replay = parse_launch_file(ROOT / "launch" / "bag_replay.launch.xml", {"bag": "/tmp/b"})
    assert _node_params(replay, "bag_player")["topics"] == ["/scan", "/odom", "/ground_truth/pose", "/goal_pose"]
    replay = parse_launch_file(ROOT / "launch" / "bag_replay.launch.xml", {"bag": "/tmp/b", "topics": "[/scan]"})
    assert _node_params(replay, "bag_player")["topics"] == ["/scan"]
    sim = parse_launch_file(ROOT / "launch" / "sim_navigation.launch.xml")
    assert _node_params(sim, "sim_node")["lockstep_nodes"] == ["topo_mapper", "subgoal_planner", "hodat_controller"]
    sim = parse_launch_file(ROOT / "launch" / "sim_navigation.launch.xml", {"controller": "goal"})
    assert _node_params(sim, "sim_node")["lockstep_nodes"] == ["topo_mapper"]
