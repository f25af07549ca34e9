"""bf16-mixed training is statistically equivalent to float32 (issue 13, acceptance 1).

1. **Exact KL within the float32 seed-to-seed spread.** The 10-spin ring at K = 0.5 (the
   exact-KL model of tests/unit/test_train.py, at a smaller size: 10,000 samples, 20 epochs)
   is trained with ``N_SEEDS`` training seeds in float32 and ``N_SEEDS`` other seeds in
   bf16-mixed. The mean exact KL of the two must agree within Welch's t test at two-sided
   level 1e-4 (the tolerance comes from the measured spread, not from a hand-set rtol). The
   same test rejects a trainer whose product operands are too coarse (weights rounded to
   multiples of 1/4), so it can fail.
2. **The bf16 CD-1 estimator hits the exact CD-1 expectation** (the test of
   tests/statistical/test_cd_gradient.py through the bf16 path): every component of the mean
   of R replicas within z = 4.5 standard errors.

bf16 products of these tiny shapes are slower than float32 on every CPU (dispatch overhead),
which keeps this small; seed sweeps at the full size are marked ``slow``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

import kadanoff.rbm.train.api as train_module
from kadanoff.rbm.exact import kl_divergence
from kadanoff.rbm.train import cd_gradient, get_preset, train_rbm
from kadanoff.rbm.train.mixed import MixedTrainer
from kadanoff.spins import all_states

sys.path.insert(0, str(Path(__file__).parent))
from test_cd_gradient import R, _cd1_exact, _check, _flat, _model  # noqa: E402

N_SEEDS = 6
ALPHA = 1e-4


def _ring(n: int, K: float, n_samples: int, seed: int):
    s = all_states(n).astype(np.float64)
    w = np.exp(K * (s * np.roll(s, -1, axis=1)).sum(1))
    p = w / w.sum()
    idx = np.random.default_rng(seed).choice(len(p), size=n_samples, p=p)
    return all_states(n)[idx], p


def _kls(data, p, precision: str, seeds, epochs: int) -> np.ndarray:
    cfg = get_preset("spin", epochs=epochs, precision=precision, monitor_size=100)
    out = []
    for seed in seeds:
        r = train_rbm((10, 10), data, cfg, seed=seed, progress=False)
        assert r.precision["used"] == precision
        out.append(kl_divergence(p, r.model))
    return np.array(out)


def _welch_p(x: np.ndarray, y: np.ndarray) -> float:
    return float(stats.ttest_ind(x, y, equal_var=False).pvalue)


class _CoarseOperands(MixedTrainer):
    """A wrong trainer: product operands rounded to multiples of 1/4 (a 2-bit fraction)."""

    def _refresh_operands(self) -> None:
        super()._refresh_operands()
        self.W16.copy_(torch.round(self.W * 4) / 4)


@pytest.fixture(scope="module")
def ring_and_float32(request):
    data, p = _ring(10, 0.5, 10_000, seed=2024)
    return data, p, _kls(data, p, "float32", range(N_SEEDS), epochs=20)


def test_bf16_mixed_exact_kl_within_float32_seed_spread(ring_and_float32, one_torch_thread):
    data, p, kl32 = ring_and_float32
    kl16 = _kls(data, p, "bf16-mixed", range(100, 100 + N_SEEDS), epochs=20)
    pval = _welch_p(kl16, kl32)
    print(
        f"exact KL float32 {kl32.mean():.5f} +- {kl32.std(ddof=1):.5f} (sd over seeds), "
        f"bf16-mixed {kl16.mean():.5f} +- {kl16.std(ddof=1):.5f}; Welch p = {pval:.3g}"
    )
    assert pval > ALPHA


def test_equivalence_test_rejects_coarse_operands(ring_and_float32, one_torch_thread, monkeypatch):
    data, p, kl32 = ring_and_float32
    monkeypatch.setattr(
        train_module, "_make_trainer", lambda model, config, B, C, ss, used: _CoarseOperands(
            model, config, B, C, ss
        )
    )  # fmt: skip
    bad = _kls(data, p, "bf16-mixed", range(200, 200 + 3), epochs=20)
    pval = _welch_p(bad, kl32)
    print(f"coarse operands: exact KL {bad.mean():.5f} (float32 {kl32.mean():.5f}), p = {pval:.3g}")
    assert pval < ALPHA


def test_bf16_cd1_estimator_matches_exact_cd1_expectation(one_torch_thread):
    m, states, p_data = _model("spin", seed=3)
    m32 = m.to(dtype=torch.float32)
    exact = _cd1_exact(m32.to(dtype=torch.float64), states, p_data)
    rng = np.random.default_rng(7)
    est = []
    for r in range(R):
        data = states[rng.choice(len(states), 400, p=p_data)].astype(np.float32)
        est.append(_flat(cd_gradient(m32, data, k=1, seed=r, precision="bf16-mixed")))
    _check(np.array(est), exact)


@pytest.mark.slow
def test_bf16_mixed_exact_kl_full_size_seed_sweep():
    """The acceptance-3 size (20,000 samples, 30 epochs), 10 seeds each."""
    data, p = _ring(10, 0.5, 20_000, seed=2024)
    kl32 = _kls(data, p, "float32", range(10), epochs=30)
    kl16 = _kls(data, p, "bf16-mixed", range(100, 110), epochs=30)
    print(f"float32 {kl32.mean():.5f} +- {kl32.std(ddof=1):.5f}, bf16 {kl16.mean():.5f}")
    assert _welch_p(kl16, kl32) > ALPHA


@pytest.mark.gpu
def test_cuda_bf16_mixed_exact_kl_within_float32_seed_spread():
    data, p = _ring(10, 0.5, 10_000, seed=2024)
    kls = {}
    for precision, seeds in (("float32", range(N_SEEDS)), ("bf16-mixed", range(100, 106))):
        cfg = get_preset("spin", epochs=20, precision=precision, device="cuda", monitor_size=100)
        kls[precision] = np.array(
            [kl_divergence(p, train_rbm((10, 10), data, cfg, seed=s, progress=False).model.to(
                device="cpu")) for s in seeds]
        )  # fmt: skip
    print({k: (v.mean(), v.std(ddof=1)) for k, v in kls.items()})
    assert kls["bf16-mixed"].max() < 0.02
    assert _welch_p(kls["bf16-mixed"], kls["float32"]) > ALPHA
