"""SE(2) helpers: the frame algebra every localisation step (map <- odom <- base_link) relies on."""

import math

import numpy as np

from toponav.geometry import se2_apply, se2_between, se2_compose, se2_inverse, wrap_angle


def test_compose_inverse_between_roundtrip() -> None:
    rng = np.random.default_rng(0)
    a = rng.uniform([-5, -5, -math.pi], [5, 5, math.pi], size=(50, 3))
    b = rng.uniform([-5, -5, -math.pi], [5, 5, math.pi], size=(50, 3))
    np.testing.assert_allclose(se2_compose(a, se2_inverse(a)), 0.0, atol=1e-12)
    back = se2_compose(a, se2_between(a, b))
    np.testing.assert_allclose(back[:, :2], b[:, :2], atol=1e-12)
    np.testing.assert_allclose(wrap_angle(back[:, 2] - b[:, 2]), 0.0, atol=1e-12)


def test_compose_and_apply_agree_with_a_hand_computed_case() -> None:
    robot = np.array([1.0, 2.0, math.pi / 2])  # facing +y
    ahead = se2_compose(robot, np.array([1.0, 0.0, 0.0]))
    np.testing.assert_allclose(ahead, [1.0, 3.0, math.pi / 2], atol=1e-12)
    np.testing.assert_allclose(se2_apply(robot, [[1.0, 0.0], [0.0, 1.0]]), [[1.0, 3.0], [0.0, 2.0]], atol=1e-12)
