"""The ``--ros-args`` tail that the bag commands and the test harness hand to rclpy (toponav.ros_env)."""

from toponav.ros_env import local_ros_env, ros_args


def test_ros_args_spells_parameters_as_rclpy_reads_them():
    args = ros_args({"flag": True, "off": False, "beams": [1, 2], "rate": 2.5}, params_file="p.yaml",
                    remaps={"scan": "front/scan"}, name="mapper")
    assert args == ["--ros-args", "-r", "__node:=mapper", "--params-file", "p.yaml", "-p", "flag:=true",
                    "-p", "off:=false", "-p", "beams:=[1,2]", "-p", "rate:=2.5", "-r", "scan:=front/scan"]
    assert ros_args() == ["--ros-args"]


def test_local_ros_env_stays_on_loopback_in_its_own_domain():
    env = local_ros_env(42, {"PATH": "/bin"})
    assert env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST" and env["ROS_DOMAIN_ID"] == "42"
    assert env["PATH"] == "/bin"
