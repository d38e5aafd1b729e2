"""Numpy Panda kinematics agree with PyBullet's on the same URDF, and the IK reaches its targets."""

from __future__ import annotations

import numpy as np
import pybullet
import pybullet_data
import pytest

from toponav.manipulation import kinematics as kin


@pytest.fixture(scope="module")
def panda():
    cid = pybullet.connect(pybullet.DIRECT)
    rid = pybullet.loadURDF(pybullet_data.getDataPath() + "/franka_panda/panda.urdf", [0, 0, 0],
                            useFixedBase=True, physicsClientId=cid)
    yield cid, rid
    pybullet.disconnect(cid)


def test_forward_kinematics_matches_pybullet(panda) -> None:
    cid, rid = panda
    names = {pybullet.getJointInfo(rid, i, physicsClientId=cid)[1].decode(): i
             for i in range(pybullet.getNumJoints(rid, physicsClientId=cid))}
    rng = np.random.default_rng(0)
    for _ in range(10):
        q = rng.uniform(kin.LOWER, kin.UPPER)
        for n, qi in zip(kin.ARM_JOINTS, q):
            pybullet.resetJointState(rid, names[n], qi, physicsClientId=cid)
        state = pybullet.getLinkState(rid, names["panda_grasptarget_hand"], computeForwardKinematics=True,
                                      physicsClientId=cid)
        pos, rot, _ = kin.forward(q)
        assert np.allclose(pos, state[4], atol=1e-6)
        assert np.allclose(rot, np.array(pybullet.getMatrixFromQuaternion(state[5])).reshape(3, 3), atol=1e-6)


def test_ik_reaches_table_targets_pointing_down() -> None:
    for target in ([0.5, 0.1, 0.05], [0.7, -0.2, 0.02], [0.45, 0.25, 0.3]):
        q = kin.solve_ik(np.array(target), iters=100)
        pos, rot, _ = kin.forward(q)
        assert np.linalg.norm(pos - target) < 2e-3
        assert rot[2, 2] < -0.99  # tool z-axis points down
        assert np.all(q >= kin.LOWER) and np.all(q <= kin.UPPER)


def test_jacobian_matches_finite_differences() -> None:
    q = kin.HOME + 0.1
    J, pos, _ = kin.jacobian(q)
    eps = 1e-6
    for i in range(7):
        dq = np.zeros(7)
        dq[i] = eps
        assert np.allclose((kin.ee_position(q + dq) - pos) / eps, J[:3, i], atol=1e-4)
