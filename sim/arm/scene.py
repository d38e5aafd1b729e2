"""The PyBullet arm scene: a Franka Panda (pybullet_data) at a table with one cube and a goal marker.

One :class:`BulletClient` per scene (many scenes per process), DIRECT mode unless asked otherwise.
The scene knows physics only: joints, motors, the object and the marker. Tasks (goal sampling,
success) live in :mod:`toponav.sim.arm.tasks`, and the gymnasium wrapper in :mod:`toponav.sim.arm.env`.
Kinematics come from :mod:`toponav.manipulation.kinematics`, the same code the ROS controller uses.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import pybullet
import pybullet_data
from pybullet_utils.bullet_client import BulletClient

from toponav.config import param
from toponav.manipulation import kinematics as kin
from toponav.manipulation.obs import BASE_POSITION, OBJECT_HALF

#: Motor force limits (N·m) of the seven arm joints, as on the real robot.
ARM_FORCES = (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0)
FINGER_FORCE = 20.0
TABLE_HALF = (0.55, 0.35, 0.2)  # 1.1 x 0.7 m top, 0.4 m tall (panda-gym's table)
TABLE_CENTER = (-0.3 + 0.25, 0.0, -0.2)


@dataclass
class SceneConfig:
    """Physics settings of the arm scene."""

    physics_dt: float = param(1.0 / 240.0, "physics time step (s)", min=1e-4, max=0.02)
    substeps: int = param(10, "physics steps per control step (control dt = physics_dt * substeps)", min=1, max=100)
    object_mass: float = param(0.5, "cube mass (kg)", min=0.01, max=10.0)
    object_friction: float = param(1.0, "cube lateral friction", min=0.0, max=5.0)
    finger_friction: float = param(1.5, "finger lateral friction (grasping)", min=0.0, max=5.0)

    @property
    def control_dt(self) -> float:
        return self.physics_dt * self.substeps


class ArmScene:
    """Panda + table + cube + goal marker in its own physics client."""

    def __init__(self, config: SceneConfig | None = None, *, gui: bool = False) -> None:
        self.config = config or SceneConfig()
        self.client = BulletClient(connection_mode=pybullet.GUI if gui else pybullet.DIRECT)
        self._build()
        self.q_target = kin.HOME.copy()
        self.width_target = 0.0
        self.time = 0.0

    def _build(self) -> None:
        """Load the plane, table, Panda, cube and marker into the (empty) physics world."""
        c = self.client
        c.setAdditionalSearchPath(pybullet_data.getDataPath())
        c.setGravity(0.0, 0.0, -9.81)
        c.setTimeStep(self.config.physics_dt)
        c.setPhysicsEngineParameter(numSolverIterations=50)
        c.loadURDF("plane.urdf", [0.0, 0.0, -0.4])
        table_col = c.createCollisionShape(pybullet.GEOM_BOX, halfExtents=TABLE_HALF)
        table_vis = c.createVisualShape(pybullet.GEOM_BOX, halfExtents=TABLE_HALF, rgbaColor=[0.9, 0.9, 0.9, 1])
        self.table = c.createMultiBody(0.0, table_col, table_vis, TABLE_CENTER)
        self.robot = c.loadURDF("franka_panda/panda.urdf", BASE_POSITION.tolist(), useFixedBase=True,
                                flags=pybullet.URDF_USE_SELF_COLLISION_EXCLUDE_PARENT)
        joints = {c.getJointInfo(self.robot, i)[1].decode(): i for i in range(c.getNumJoints(self.robot))}
        self.arm_ids = [joints[n] for n in kin.ARM_JOINTS]
        self.finger_ids = [joints[n] for n in kin.FINGER_JOINTS]
        for j in self.finger_ids:
            c.changeDynamics(self.robot, j, lateralFriction=self.config.finger_friction, spinningFriction=0.001)
        half = [OBJECT_HALF] * 3
        obj_col = c.createCollisionShape(pybullet.GEOM_BOX, halfExtents=half)
        obj_vis = c.createVisualShape(pybullet.GEOM_BOX, halfExtents=half, rgbaColor=[0.1, 0.4, 0.9, 1])
        self.object = c.createMultiBody(self.config.object_mass, obj_col, obj_vis, [0.0, 0.0, OBJECT_HALF])
        c.changeDynamics(self.object, -1, lateralFriction=self.config.object_friction, spinningFriction=0.001)
        goal_vis = c.createVisualShape(pybullet.GEOM_SPHERE, radius=0.02, rgbaColor=[0.1, 0.9, 0.1, 0.4])
        self.marker = c.createMultiBody(0.0, -1, goal_vis, [0.0, 0.0, 0.02])

    # ----- state --------------------------------------------------------------------------
    def reset(self, q: np.ndarray, width: float, obj_pos: np.ndarray, obj_yaw: float, goal: np.ndarray) -> None:
        """Rebuild the world, then place the arm, fingers, cube and goal marker (all velocities zero).

        Rebuilding (``resetSimulation`` + reload) is what makes an episode depend only on its own seed:
        teleporting bodies with ``resetJointState``/``resetBasePositionAndOrientation`` leaves solver
        state (warm-started contacts) from the previous episode behind, so the same seed and actions gave
        cube positions up to 19 cm apart depending on what ran before (a known PyBullet behaviour). Costs a
        few milliseconds per episode; saved states (:meth:`save_state`) do not survive a reset.
        """
        c = self.client
        c.resetSimulation()
        self._build()
        for j, qi in zip(self.arm_ids, q):
            c.resetJointState(self.robot, j, float(qi), 0.0)
        for j in self.finger_ids:
            c.resetJointState(self.robot, j, width / 2.0, 0.0)
        c.resetBasePositionAndOrientation(self.object, list(map(float, obj_pos)),
                                          c.getQuaternionFromEuler([0.0, 0.0, float(obj_yaw)]))
        c.resetBaseVelocity(self.object, [0.0, 0.0, 0.0], [0.0, 0.0, 0.0])
        self.set_goal(goal)
        self.command(q, width)
        self.time = 0.0

    def set_goal(self, goal: np.ndarray) -> None:
        self.client.resetBasePositionAndOrientation(self.marker, list(map(float, goal)), [0.0, 0.0, 0.0, 1.0])

    def joint_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Arm joint angles (7,), arm joint velocities (7,), finger positions (2,)."""
        states = self.client.getJointStates(self.robot, self.arm_ids + self.finger_ids)
        pos = np.array([s[0] for s in states])
        vel = np.array([s[1] for s in states])
        return pos[:7], vel[:7], pos[7:]

    def finger_width(self) -> float:
        return float(sum(s[0] for s in self.client.getJointStates(self.robot, self.finger_ids)))

    def ee_position(self) -> np.ndarray:
        q = np.array([s[0] for s in self.client.getJointStates(self.robot, self.arm_ids)])
        return kin.ee_position(q, BASE_POSITION)

    def object_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Cube position (3,) and quaternion (x, y, z, w)."""
        pos, quat = self.client.getBasePositionAndOrientation(self.object)
        return np.array(pos), np.array(quat)

    def save_state(self) -> int:
        return self.client.saveState()

    def restore_state(self, state_id: int) -> None:
        self.client.restoreState(state_id)

    # ----- control ------------------------------------------------------------------------
    def command(self, q: np.ndarray, width: float) -> None:
        """Set position targets for the arm joints and the finger width (held until changed)."""
        self.q_target = np.clip(np.asarray(q, dtype=float), kin.LOWER, kin.UPPER)
        self.width_target = float(np.clip(width, 0.0, 0.08))
        c = self.client
        c.setJointMotorControlArray(self.robot, self.arm_ids, pybullet.POSITION_CONTROL,
                                    targetPositions=self.q_target.tolist(), forces=list(ARM_FORCES))
        c.setJointMotorControlArray(self.robot, self.finger_ids, pybullet.POSITION_CONTROL,
                                    targetPositions=[self.width_target / 2.0] * 2, forces=[FINGER_FORCE] * 2)

    def step(self, substeps: int | None = None) -> None:
        """Advance physics by ``substeps`` (default: one control step)."""
        n = self.config.substeps if substeps is None else substeps
        for _ in range(n):
            self.client.stepSimulation()
        self.time += n * self.config.physics_dt

    def close(self) -> None:
        with contextlib.suppress(pybullet.error):
            self.client.disconnect()
