"""faceproof.error_rates: the one definition of rates, thresholds at a rate, DET and AUC."""

from __future__ import annotations

import math

import numpy as np
import pytest

from faceproof import error_rates as er


def _scores(rng: np.random.Generator, n: int, ties: bool) -> np.ndarray:
    x = rng.normal(size=n).astype(np.float32)
    return np.round(x, 1).astype(np.float32) if ties else x


@pytest.mark.parametrize("float32", [False, True])
def test_threshold_at_accept_rate_is_the_lowest_within_the_allowed_count(float32: bool) -> None:
    rng = np.random.default_rng(7)
    for trial in range(200):
        neg = _scores(rng, int(rng.integers(1, 400)), ties=trial % 2 == 0)
        for rate in (0.0, 0.001, 0.01, 0.1, 0.5, 0.9):
            t = er.threshold_at_accept_rate(neg, rate, float32=float32)
            allowed = math.floor(rate * neg.size)
            accepted = int(np.count_nonzero(neg.astype(np.float64) >= t))
            assert accepted <= allowed
            # One step lower on the same grid accepts more than allowed: t is the lowest.
            lower = (
                float(np.nextafter(np.float32(t), np.float32(-np.inf)))
                if float32
                else float(np.nextafter(t, -np.inf))
            )
            assert int(np.count_nonzero(neg.astype(np.float64) >= lower)) > allowed
            if float32:
                assert float(np.float32(t)) == t  # on the float32 grid
                assert int(np.count_nonzero(neg >= np.float32(t))) == accepted


def test_several_rates_at_once_equal_one_at_a_time() -> None:
    neg = _scores(np.random.default_rng(3), 5000, ties=True)
    rates = [0.2, 0.01, 0.05, 0.001]
    assert er.thresholds_at_accept_rates(neg, rates, float32=True) == [
        er.threshold_at_accept_rate(neg, r, float32=True) for r in rates
    ]


def test_threshold_at_reject_rate_is_the_highest_within_the_allowed_count() -> None:
    rng = np.random.default_rng(11)
    for trial in range(200):
        pos = _scores(rng, int(rng.integers(1, 400)), ties=trial % 2 == 0).astype(np.float64)
        for rate in (0.0, 0.01, 0.1, 0.5):
            t = er.threshold_at_reject_rate(pos, rate)
            allowed = math.floor(rate * pos.size)
            assert int(np.count_nonzero(pos < t)) <= allowed
            assert int(np.count_nonzero(pos < np.nextafter(t, np.inf))) > allowed


def test_rates_and_edges() -> None:
    scores = np.array([0.1, 0.2, 0.2, 0.9], dtype=np.float32)
    assert er.accept_rate(scores, 0.2) == 0.75
    assert er.reject_rate(scores, 0.2) == 0.25
    assert math.isnan(er.accept_rate(np.zeros(0), 0.5))
    # float32 scores against a float64 threshold just above one of them: refused, not tied.
    just_above = er.next_above(float(scores[1]))
    assert float(np.mean(scores >= just_above)) == 0.75  # NumPy's float32 comparison
    assert er.accept_rate(scores, just_above) == 0.25
    assert er.threshold_at_accept_rate(np.zeros(0), 0.1) == -math.inf
    assert er.threshold_at_reject_rate(np.zeros(0), 0.1) == math.inf
    for bad in (-0.1, 1.0, 2.0):
        with pytest.raises(ValueError):
            er.threshold_at_accept_rate(scores, bad)
    assert er.supported(300, 0.01) and not er.supported(299, 0.01)


def test_det_curve_lists_every_operating_point() -> None:
    rng = np.random.default_rng(5)
    pos = _scores(rng, 300, ties=True) + 1.0
    neg = _scores(rng, 500, ties=True)
    far, frr = er.det_curve(pos, neg)
    ths = np.unique(np.concatenate([pos, neg, [np.inf]]))
    assert far.shape == frr.shape == ths.shape
    for i in rng.choice(ths.size, 25, replace=False):
        assert far[i] == er.accept_rate(neg, ths[i]) and frr[i] == er.reject_rate(pos, ths[i])
    assert (far[0], frr[0], far[-1], frr[-1]) == (1.0, 0.0, 0.0, 1.0)
    assert np.all(np.diff(far) <= 0) and np.all(np.diff(frr) >= 0)


def test_auc_equals_the_pairwise_probability_with_ties_half() -> None:
    rng = np.random.default_rng(9)
    for _ in range(50):
        pos = np.round(rng.normal(0.5, 1, int(rng.integers(1, 60))), 1)
        neg = np.round(rng.normal(0.0, 1, int(rng.integers(1, 60))), 1)
        diff = pos[:, None] - neg[None, :]
        expected = float(np.mean((diff > 0) + 0.5 * (diff == 0)))
        assert er.auc(pos, neg) == pytest.approx(expected, abs=1e-12)
    assert er.auc([1.0, 2.0], [0.0]) == 1.0 and er.auc([0.0], [1.0, 2.0]) == 0.0
    assert math.isnan(er.auc([], [1.0]))
