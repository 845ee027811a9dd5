"""No quiet wrong answers (issue 23, findings item 1): each degenerate input that used to return a plausible
number now raises ValueError naming the parameter and its valid range, or returns the value the definition
gives it. `test_fuzz.py` tries such inputs on the whole public API; these are the cases a reviewer found."""

from __future__ import annotations

import numpy as np
import pytest

import theorem1_cases
from deeplinear import _validate, aligned, data, fixed_bases, theory


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# -- theory.targets_for_residual and theorem1_cases.two_layer_cases: X X^T must be invertible ------------------------
def _residual_problem(k: int, n: int, seed: int = 0):
    g = rng(seed)
    bases = [aligned.random_orthogonal(k, rng=g) for _ in range(3)]
    Ws = aligned.aligned_network(bases, [g.uniform(0.5, 1, k), g.uniform(0.5, 1, k)])
    return Ws, g.standard_normal((k, n)), bases[2], g.standard_normal((k, k)), bases[0]


def test_targets_for_residual_refuses_fewer_samples_than_rows():
    Ws, X, U, D, V = _residual_problem(4, 2)  # n = 2 < k = 4: X X^T is singular
    with pytest.raises(ValueError, match=r"X must have full row rank.*n >= 4"):
        theory.targets_for_residual(Ws, X, U, D, V)


def test_targets_for_residual_refuses_a_rank_deficient_X():
    Ws, X, U, D, V = _residual_problem(3, 6)
    X[2] = X[0] + X[1]  # rank 2 with n >= k
    with pytest.raises(ValueError, match=r"X must have full row rank 3.*got rank 2"):
        theory.targets_for_residual(Ws, X, U, D, V)


def test_targets_for_residual_still_meets_its_identity():
    Ws, X, U, D, V = _residual_problem(3, 5)
    Y = theory.targets_for_residual(Ws, X, U, D, V)
    np.testing.assert_allclose(U.T @ (Y - Ws[1] @ Ws[0] @ X) @ X.T @ V, D, atol=1e-10)


def test_two_layer_cases_refuses_n_below_k():
    with pytest.raises(ValueError, match=r"n must be an integer >= k = 4"):
        theorem1_cases.two_layer_cases(4, 2, rng())
    with pytest.raises(ValueError, match=r"k must be an integer >= 2"):
        theorem1_cases.two_layer_cases(1, 3, rng())
    with pytest.raises(ValueError, match=r"n must be an integer"):
        theorem1_cases.two_layer_cases(3, 3.5, rng())
    assert len(theorem1_cases.two_layer_cases(3, 3, rng())) == 3  # n = k is allowed


# -- tolerances: a verdict needs a finite tolerance >= 0 ------------------------------------------------------
@pytest.mark.parametrize("tol", [-1, -1e-12, np.nan, np.inf, -np.inf, True, "1e-10", None])
def test_alignment_invariant_refuses_a_bad_tolerance(tol):
    X, Y = rng().standard_normal((3, 5)), rng(1).standard_normal((3, 5))
    with pytest.raises(ValueError, match=r"tol must be a finite number >= 0"):
        theory.alignment_invariant(X, Y, tol=tol)
    with pytest.raises(ValueError, match=r"tol must be a finite number >= 0"):
        theory.alignment_invariant_witness(X, X, tol=tol)


def test_sensing_witness_refuses_a_bad_tolerance():
    problem = data.matrix_sensing(3, 4, rng=rng())
    with pytest.raises(ValueError, match=r"tol must be a finite number >= 0"):
        theory.sensing_witness(problem.M, problem.y, tol=np.nan, rng=rng())


@pytest.mark.parametrize("tol", [0, 0.0, 1e-10, np.float32(1e-3), np.float64(0.5), 1])
def test_alignment_invariant_accepts_any_finite_tolerance_at_least_zero(tol):
    X = rng().standard_normal((3, 5))
    assert theory.alignment_invariant(X, X, tol=tol) in (True, False)
    assert theory.alignment_invariant(np.zeros((3, 5)), X, tol=tol)  # zero data: the condition holds exactly


# -- widths: a width of 2.7 is an error, not 2 -----------------------------------------------------------------
@pytest.mark.parametrize("widths", [[3, 2.7, 3], [3, 3.0, 3], [3, True, 3], [3, 0, 3], [3], [], "333", 3])
def test_aligned_start_refuses_non_integer_widths(widths):
    with pytest.raises(ValueError, match=r"widths must be a sequence \[k_0, \.\.\., k_d\]"):
        aligned.aligned_start(np.eye(3), np.eye(3), widths, rng=rng())


@pytest.mark.parametrize("widths", [[3, 2.7, 1], [3, -1, 1], [3.5, 1]])
def test_appendix_f_start_refuses_non_integer_widths(widths):
    with pytest.raises(ValueError, match=r"widths must be a sequence"):
        aligned.appendix_f_start(np.eye(3), np.eye(1), widths, rng=rng())


def test_widths_accept_numpy_integers_and_give_the_same_network():
    plain = aligned.aligned_start(np.eye(3), np.eye(3), [3, 2, 3], rng=rng(5))
    numpy_ints = aligned.aligned_start(np.eye(3), np.eye(3), np.array([3, 2, 3]), rng=rng(5))
    for a, b in zip(plain, numpy_ints):
        np.testing.assert_array_equal(a, b)
    assert len(aligned.appendix_f_start(np.eye(3), np.eye(1), [np.int64(3), np.int32(2), 1], rng=rng())) == 2


def test_aligned_start_refuses_infinite_singular_value_ranges():
    with pytest.raises(ValueError, match=r"high must be a finite number, got inf"):
        aligned.aligned_start(np.eye(2), np.eye(2), [2, 2], high=np.inf, rng=rng())


# -- zero layers: rank_one_leak and pinned_rotation are defined there, and stay finite ---------------------------
def test_rank_one_leak_of_zero_layers_is_zero_not_nan():
    q, Ws = theorem1_cases.rank_one_chain(3, 3, rng())
    with np.errstate(all="raise"):  # no 0 / 0 on the way
        assert fixed_bases.rank_one_leak([np.zeros_like(W) for W in Ws], q) == 0.0
        Ws[1] = np.zeros_like(Ws[1])
        assert fixed_bases.rank_one_leak(Ws, q) < 1e-15  # the other layers: rounding


def test_rank_one_leak_checks_q():
    q, Ws = theorem1_cases.rank_one_chain(3, 3, rng())
    with pytest.raises(ValueError, match=r"q\[1\] must be a unit vector"):
        fixed_bases.rank_one_leak(Ws, [q[0], 2 * q[1]])
    with pytest.raises(ValueError, match=r"q\[0\] must be a finite array of shape \(3,\)"):
        fixed_bases.rank_one_leak(Ws, [q[0][:2], q[1]])
    with pytest.raises(ValueError, match=r"q\[0\] must be a finite"):
        fixed_bases.rank_one_leak(Ws, [np.full(3, np.nan), q[1]])
    with pytest.raises(ValueError, match=r"Ws must have d >= 2 layers"):
        fixed_bases.rank_one_leak(Ws[:1], [])


def test_pinned_rotation_of_a_zero_network_is_zero_not_nan():
    bases = [np.eye(2)] * 3
    with np.errstate(all="raise"):
        assert fixed_bases.pinned_rotation([np.zeros((2, 2)), np.zeros((2, 2))], bases, [1]) == 0.0
        # one zero Gram matrix: the other still counts
        R = np.array([[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]])
        turned = fixed_bases.pinned_rotation([np.diag([2.0, 0.5]), np.zeros((2, 2))], [np.eye(2), R, np.eye(2)], [1])
        assert 0 < turned < 1


@pytest.mark.parametrize(
    "bases, match",
    [
        ([np.eye(2)] * 2, r"bases must hold 3 orthonormal matrices of shapes \(2, 2\), \(2, 2\), \(2, 2\)"),
        ([np.eye(2), np.eye(3), np.eye(2)], r"bases\[1\] must be a finite \(2, 2\) array"),
        ([np.eye(2), np.ones((2, 2)), np.eye(2)], r"bases\[1\] must be orthonormal"),
        ([np.eye(2), np.full((2, 2), np.nan), np.eye(2)], r"bases\[1\] must be a finite"),
        (np.stack([np.eye(2)] * 3), r"bases must hold 3"),
        ([np.eye(2), "ab", np.eye(2)], r"bases\[1\] must be a numeric"),
    ],
)
def test_pinned_rotation_names_malformed_bases(bases, match):
    Ws = [np.diag([1.0, 0.5]), np.eye(2)]
    with pytest.raises(ValueError, match=match):
        fixed_bases.pinned_rotation(Ws, bases, [1])


@pytest.mark.parametrize("inner", [[0], [2], [1.0], [True], [-1]])
def test_pinned_rotation_names_bad_interfaces(inner):
    with pytest.raises(ValueError, match=r"inner must be interface indices in \[1, 1\]"):
        fixed_bases.pinned_rotation([np.eye(2), np.eye(2)], [np.eye(2)] * 3, inner)


def test_pinned_rotation_and_rank_one_leak_refuse_stacks():
    stacked = [np.stack([np.eye(2)] * 2)] * 2
    with pytest.raises(ValueError, match=r"Ws must be one network"):
        fixed_bases.pinned_rotation(stacked, [np.eye(2)] * 3, [1])
    with pytest.raises(ValueError, match=r"Ws must be one network"):
        fixed_bases.rank_one_leak(stacked, [np.array([1.0, 0.0])])


# -- data.mnist: source="auto" never switches data set ---------------------------------------------------------
def test_mnist_auto_is_prefix_consistent_and_never_switches_data_set():
    full, full_labels = data.mnist(2000)
    head, head_labels = data.mnist(300, offset=100)
    np.testing.assert_array_equal(full[100:400], head)
    np.testing.assert_array_equal(full_labels[100:400], head_labels)
    subset, _ = data.mnist(2000, source="subset")
    np.testing.assert_array_equal(full, subset)
    for n, offset in ((2001, 0), (1, 2000), (500, 1600)):
        with pytest.raises(ValueError, match=r"offset \+ n must be <= 2000 for source='auto'.*source='idx'"):
            data.mnist(n, offset=offset)


# -- the shared checks ------------------------------------------------------------------------------------------
def test_shared_checks_name_the_parameter_and_its_range():
    assert _validate.positive(np.float32(0.5), "lr") == 0.5
    assert _validate.tolerance(0, "tol") == 0.0
    assert _validate.widths((np.int64(2), 3)) == [2, 3]
    for bad in (0, -1.0, np.nan, np.inf, True, "1", None):
        with pytest.raises(ValueError, match=r"lr must be a positive number"):
            _validate.positive(bad, "lr")
    for bad in (-1, np.nan, np.inf, False, None):
        with pytest.raises(ValueError, match=r"rtol must be a finite number >= 0"):
            _validate.tolerance(bad, "rtol")
    with pytest.raises(ValueError, match=r"hidden must be a sequence .* of d \+ 1 >= 2 integers >= 2"):
        _validate.widths([3, 1], "hidden", low=2)
    with pytest.raises(ValueError, match=r"X must have full row rank"):
        _validate.full_row_rank(np.ones((2, 3)), "X")
