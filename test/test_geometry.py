"""SE(2) helpers: the frame algebra every localisation step (map <- odom <- base_link) relies on."""

import math

import numpy as np

from toponav.geometry import (
    matrix_to_se2,
    se2_apply,
    se2_between,
    se2_compose,
    se2_inverse,
    se2_to_matrix,
    wrap_angle,
)


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


def test_se2_matrix_round_trip_and_composition() -> None:
    """The 4x4 form 3-D libraries take: round trip, and matrix products compose as ``se2_compose`` does."""
    a, b = np.array([1.0, -2.0, 3.0]), np.array([0.5, 0.25, -2.5])
    assert np.allclose(matrix_to_se2(se2_to_matrix(a)), a)
    ab = matrix_to_se2(se2_to_matrix(a) @ se2_to_matrix(b))
    assert np.allclose(ab[:2], se2_compose(a, b)[:2]) and np.isclose(np.cos(ab[2] - se2_compose(a, b)[2]), 1.0)
