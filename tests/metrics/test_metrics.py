"""ganforge.metrics against direct reference computations and hand-counted cases."""
import math

import numpy as np
import pytest
import torch
from scipy import linalg
from scipy.special import logsumexp

from ganforge import metrics as M


def rng(seed=0):
    return np.random.default_rng(seed)


def mixture(n, centers, scale, seed):
    """n points from an equal-weight Gaussian mixture (isotropic `scale`) around `centers`."""
    r = rng(seed)
    comp = r.integers(0, len(centers), n)
    return centers[comp] + scale * r.standard_normal((n, centers.shape[1]))


# ---------------------------------------------------------------- FID

def fid_reference(a, b):
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def test_fid_matches_scipy_sqrtm_reference():
    r = rng(1)
    a = r.standard_normal((2000, 16)) @ r.standard_normal((16, 16)) * 0.5
    b = r.standard_normal((1500, 16)) @ r.standard_normal((16, 16)) * 0.7 + 0.3
    assert M.frechet_distance(a, b) == pytest.approx(fid_reference(a, b), rel=1e-6)
    # torch float32 input gives the same float64 computation on the same values
    a32 = torch.from_numpy(a).float()
    assert M.frechet_distance(a32, b) == pytest.approx(fid_reference(a32.double().numpy(), b), rel=1e-6)


def test_fid_self_is_zero_and_mean_shift_is_exact():
    a = rng(2).standard_normal((500, 8))
    assert M.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    shift = np.array([1.0, -2.0, 0.5, 0, 0, 0, 0, 3.0])
    # same covariance: only |Δμ|² remains
    assert M.frechet_distance(a, a + shift) == pytest.approx(float(shift @ shift), rel=1e-9)


def test_fid_handles_singular_covariances():
    r = rng(3)
    a, b = r.standard_normal((20, 64)), r.standard_normal((30, 64)) + 0.1  # N < D: rank-deficient
    fid = M.frechet_distance(a, b)
    assert np.isfinite(fid) and fid > 0
    assert M.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)


def test_streaming_stats_match_one_pass_and_survive_large_offsets():
    x = rng(4).standard_normal((1000, 5)) + 1e6  # large common offset: naive E[xx]-μμ loses digits
    s = M.StreamingStats()
    for chunk in np.array_split(x, 7):
        s.update(torch.from_numpy(chunk))
    assert s.count == 1000
    np.testing.assert_allclose(s.mean, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(s.cov, np.cov(x, rowvar=False), rtol=1e-6, atol=1e-8)
    mu, cov = M.feature_stats(x)
    assert mu.dtype == np.float64 and cov.shape == (5, 5)
    a, b = M.feature_stats(x), M.feature_stats(x[::-1] + 0.5)
    assert M.frechet_distance_from_stats(*a, *b) == pytest.approx(5 * 0.25, rel=1e-6)


# ---------------------------------------------------------------- KID

def test_kid_matches_direct_mmd_on_one_full_subset():
    r = rng(5)
    a, b = r.standard_normal((40, 3)), r.standard_normal((40, 3)) + 0.2
    k = lambda x, y: (x @ y.T / 3 + 1) ** 3
    m = 40
    kxx, kyy, kxy = k(a, a), k(b, b), k(a, b)
    ref = ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
           - 2 * kxy.mean())
    mean, std = M.kid(a, b, subsets=3, subset_size=1000)  # capped at 40: every subset is the full set
    assert mean == pytest.approx(ref, rel=1e-10) and std == pytest.approx(0.0, abs=1e-12)


def test_kid_near_zero_for_same_distribution_and_positive_for_shift():
    r = rng(6)
    a, b = r.standard_normal((2000, 16)), r.standard_normal((2000, 16))
    mean, std = M.kid(a, b, subsets=20, subset_size=500)
    assert abs(mean) < 3 * std or abs(mean) < 1e-3
    mean_s, std_s = M.kid(a, b + 0.5, subsets=20, subset_size=500)
    assert mean_s > 10 * std_s and mean_s > 10 * abs(mean)


# ---------------------------------------------------------------- Inception Score

def test_inception_score_extremes():
    k = 10
    confident_uniform = np.eye(k)[np.arange(1000) % k]  # each split holds every class equally
    mean, std = M.inception_score(confident_uniform, splits=10)
    assert mean == pytest.approx(k, rel=1e-12) and std == pytest.approx(0.0, abs=1e-12)
    one_class = np.tile(np.eye(k)[3], (1000, 1))
    assert M.inception_score(one_class)[0] == pytest.approx(1.0, abs=1e-12)
    blurry = np.full((1000, k), 1.0 / k)  # uniform per sample: p(y|x) = p(y), IS = 1
    assert M.inception_score(torch.from_numpy(blurry))[0] == pytest.approx(1.0, abs=1e-12)


# ---------------------------------------------------------------- precision / recall, density / coverage

CENTERS = np.array([[0, 0], [10, 0], [0, 10], [10, 10], [20, 0], [0, 20], [20, 20], [20, 10]], float)


def test_precision_recall_identical_distributions():
    real, fake = mixture(3000, CENTERS, 1.0, 7), mixture(3000, CENTERS, 1.0, 8)
    pr = M.precision_recall(real, fake, k=3)
    assert pr["precision"] > 0.9 and pr["recall"] > 0.9
    dc = M.density_coverage(real, fake, k=5)
    assert 0.85 < dc["density"] < 1.15 and dc["coverage"] > 0.9


def test_half_the_modes_lowers_recall_and_coverage():
    real = mixture(3000, CENTERS, 1.0, 9)
    fake = mixture(3000, CENTERS[:4], 1.0, 10)
    pr, dc = M.precision_recall(real, fake), M.density_coverage(real, fake)
    assert pr["precision"] > 0.9
    assert pr["recall"] < 0.6 and dc["coverage"] < 0.6
    assert pr["precision"] - pr["recall"] > 0.3


def test_far_away_fake_has_no_precision():
    real = mixture(1000, CENTERS, 1.0, 11)
    fake = mixture(1000, CENTERS + 500.0, 1.0, 12)
    pr, dc = M.precision_recall(real, fake), M.density_coverage(real, fake)
    assert pr["precision"] == 0.0 and pr["recall"] == 0.0
    assert dc["density"] == 0.0 and dc["coverage"] == 0.0


def test_precision_recall_hand_counted():
    # real on a line 0..4, k=1: radii are 1. fake at 0.5 (inside), 10 (outside) and 10.5 (outside)
    real = np.arange(5.0)[:, None]
    fake = np.array([[0.5], [10.0], [10.5]])
    pr = M.precision_recall(real, fake, k=1)
    assert pr["precision"] == pytest.approx(1 / 3)
    # fake radii (k=1): 9.5, 0.5, 0.5 -> the sphere around 0.5 holds every real point
    assert pr["recall"] == pytest.approx(1.0)
    dc = M.density_coverage(real, fake, k=1)
    # 0.5 lies in the spheres of real 0 and real 1 -> density 2 / (1 * 3); coverage: reals 0, 1
    assert dc["density"] == pytest.approx(2 / 3) and dc["coverage"] == pytest.approx(2 / 5)


# ---------------------------------------------------------------- Parzen

def test_parzen_matches_direct_computation():
    r = rng(13)
    samples, test = r.standard_normal((50, 4)), r.standard_normal((30, 4))
    sigma = 0.7
    d2 = ((test[:, None, :] - samples[None]) ** 2).sum(-1)
    ll = logsumexp(-d2 / (2 * sigma ** 2), axis=1) - math.log(50) - 2 * math.log(2 * math.pi * sigma ** 2)
    mean, se = M.parzen_log_likelihood(samples, test, sigma)
    assert mean == pytest.approx(ll.mean(), rel=1e-10)
    assert se == pytest.approx(ll.std() / math.sqrt(30), rel=1e-10)
    # a tiny sigma must not underflow to -inf: logsumexp is max-shifted
    assert np.isfinite(M.parzen_log_likelihood(samples, test + 100, 0.01)[0])


def test_parzen_real_beats_noise_and_sigma_selection_is_the_argmax():
    train = mixture(1000, CENTERS[:4] / 10, 0.1, 14)
    test, valid = mixture(500, CENTERS[:4] / 10, 0.1, 15), mixture(500, CENTERS[:4] / 10, 0.1, 16)
    noise = rng(17).uniform(-1, 2, (1000, 2))
    sigma = 0.1
    assert M.parzen_log_likelihood(train, test, sigma)[0] > M.parzen_log_likelihood(noise, test, sigma)[0] + 1
    sigmas = np.logspace(-2, 0, 12)
    best = M.parzen_select_sigma(train, valid, sigmas)
    per_sigma = [M.parzen_log_likelihood(train, valid, s)[0] for s in sigmas]
    assert best == sigmas[int(np.argmax(per_sigma))]
    assert sigmas[0] < best < sigmas[-1]  # an interior optimum, not an edge of the grid


# ---------------------------------------------------------------- mode reports

def test_mode_report_hand_counted():
    means = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    sigma = 1.0
    pts = np.array([[0.5, 0.0]] * 5 + [[10.0, 2.9]] * 3 + [[0.0, 6.5]] * 2 + [[5.0, 5.0]])
    # 5 HQ at mode 0; 3 HQ at mode 1 (2.9 <= 3σ); 2 at distance 3.5 from mode 2 -> not HQ; 1 far off
    rep = M.mode_report(pts, means, sigma, min_count=3)
    np.testing.assert_array_equal(rep["counts"], [5, 3, 0])
    assert rep["modes"] == 2
    assert rep["high_quality"] == pytest.approx(8 / 11)
    q = np.array([5 / 8, 3 / 8])
    assert rep["reverse_kl"] == pytest.approx(float(np.sum(q * np.log(q * 3))), abs=1e-8)
    # default threshold: max(1, round(0.008 * 11)) = 1 -> mode 1 with 3 counts still covered
    assert M.mode_report(pts, means, sigma)["modes"] == 2
    assert M.mode_report(pts, means, sigma, min_count=4)["modes"] == 1


def test_mode_report_default_threshold_on_a_grid():
    means = np.array([[i, j] for i in range(-4, 5, 2) for j in range(-4, 5, 2)], float)  # 25 modes
    pts = mixture(2500, means, 0.05, 18)
    rep = M.mode_report(pts, means, 0.05)
    assert rep["modes"] == 25 and rep["high_quality"] > 0.98 and rep["reverse_kl"] < 0.02
    collapsed = mixture(2500, means[:3], 0.05, 19)
    collapsed[:15] = means[5]  # 15 samples < 20 (=0.008·2500): mode 5 is not counted
    rep = M.mode_report(collapsed, means, 0.05)
    assert rep["modes"] == 3 and rep["counts"][5] == 15
    assert rep["reverse_kl"] > math.log(25 / 3) - 0.1


def test_class_histogram_report():
    labels = np.array([0] * 50 + [1] * 40 + [2] * 9 + [3] * 1)  # N=100, K=4: uniform share 25, 10% = 2.5
    rep = M.class_histogram_report(labels, 4)
    np.testing.assert_array_equal(rep["histogram"], [50, 40, 9, 1])
    assert rep["classes_covered"] == 3
    q = np.array([0.5, 0.4, 0.09, 0.01])
    assert rep["kl_to_uniform"] == pytest.approx(float(np.sum(q * np.log(q * 4))), abs=1e-8)
    uniform = M.class_histogram_report(torch.arange(1000) % 10, 10)
    assert uniform["classes_covered"] == 10 and uniform["kl_to_uniform"] == pytest.approx(0.0, abs=1e-8)


# ---------------------------------------------------------------- memorisation

def test_nearest_neighbours_match_brute_force():
    r = rng(20)
    samples, train = r.standard_normal((37, 2, 3, 3)), r.standard_normal((101, 18))  # flattened to 18
    idx, dist = M.nearest_neighbours(samples, train, k=3)
    d = np.sqrt(((samples.reshape(37, -1)[:, None] - train[None]) ** 2).sum(-1))
    ref = np.argsort(d, axis=1)[:, :3]
    np.testing.assert_array_equal(idx, ref)
    np.testing.assert_allclose(dist, np.take_along_axis(d, ref, 1), rtol=1e-9)


def test_memorisation_fraction_copies_vs_fresh_draws():
    r = rng(21)
    train = r.standard_normal((3000, 8))
    copies = train[r.choice(3000, 500, replace=False)] + 1e-9
    assert M.memorisation_fraction(copies, train) == pytest.approx(1.0)
    fresh = r.standard_normal((1000, 8))
    assert M.memorisation_fraction(fresh, train) < 0.05
    assert M.memorisation_fraction(fresh, train, quantile=0.5) == pytest.approx(0.5, abs=0.08)
    # explicit reference subset
    assert M.memorisation_fraction(copies, train, reference_split=np.arange(100)) == pytest.approx(1.0)


def test_blocked_results_do_not_depend_on_the_block_size(monkeypatch):
    from ganforge.metrics import _arrays

    real, fake = mixture(400, CENTERS, 1.0, 22), mixture(300, CENTERS[:5], 1.0, 23)
    valid = mixture(200, CENTERS, 1.0, 24)

    def everything():
        return (M.precision_recall(real, fake), M.density_coverage(real, fake),
                M.parzen_log_likelihoods(fake, valid, [0.5, 1.0]), M.nearest_neighbours(fake, real, k=2),
                M.memorisation_fraction(fake, real, quantile=0.2))

    one_block = everything()
    monkeypatch.setattr(_arrays, "BLOCK_ELEMENTS", 7 * 400 + 5)  # ~7 rows per block, ragged last block
    many_blocks = everything()
    assert one_block[0] == many_blocks[0] and one_block[1] == many_blocks[1]
    np.testing.assert_allclose(one_block[2], many_blocks[2], rtol=1e-12)
    np.testing.assert_array_equal(one_block[3][0], many_blocks[3][0])
    assert one_block[4] == many_blocks[4]
