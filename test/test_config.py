"""Config dataclasses -> flat ROS parameter names -> validated config, with named errors."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from toponav.config import ConfigError, build, flatten, load_ros_params, param


@dataclass
class Inner:
    int_coef: float = param(0.5, "intrinsic reward weight", min=0.0)
    mode: str = param("learned", "which policy", choices=("learned", "dwa"))


@dataclass
class Outer:
    rate: int = param(20, "Hz", min=1)
    rnd: Inner = field(default_factory=Inner)


def test_flatten_uses_nested_names() -> None:
    assert flatten(Outer()) == {"rate": 20, "rnd.int_coef": 0.5, "rnd.mode": "learned"}


def test_build_accepts_flat_and_nested() -> None:
    assert build(Outer, {"rnd.int_coef": 1}).rnd.int_coef == 1.0
    assert build(Outer, {"rnd": {"mode": "dwa"}}).rnd.mode == "dwa"


@pytest.mark.parametrize(
    ("values", "name"),
    [({"rate": 0}, "rate"), ({"rnd.int_coef": "x"}, "rnd.int_coef"), ({"rnd.mode": "fast"}, "rnd.mode"),
     ({"rnd.typo": 1}, "rnd.typo"), ({"rnd.int_coef": float("nan")}, "rnd.int_coef")],
)
def test_bad_values_name_the_parameter(values: dict, name: str) -> None:
    with pytest.raises(ConfigError) as err:
        build(Outer, values)
    assert err.value.name == name
    assert f"'{name}'" in str(err.value)


def test_ros_params_yaml(tmp_path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("/**:\n  ros__parameters:\n    rate: 5\nnode:\n  ros__parameters:\n    rnd:\n      int_coef: 2.0\n")
    assert load_ros_params(path, "node") == {"rate": 5, "rnd.int_coef": 2.0}
    path.write_text("/**:\n  ros__parameters:\n    rate: 5\n/**/node:\n  ros__parameters:\n    rate: 7\n")
    assert load_ros_params(path, "node") == {"rate": 7}  # the any-namespace key of toponav's config files
    with pytest.raises(ConfigError):
        load_ros_params(tmp_path / "missing.yaml", "node")
