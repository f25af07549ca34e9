"""Monte Carlo RG helpers (coarse.py) and the documentation rule (issue 4, acceptance 5)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import kadanoff.rg as rg
from kadanoff.lattice import Chain, SquareLattice
from kadanoff.rg import (
    GeneralBoltzmannMachine,
    MachineOperator,
    MajorityRule,
    SoftKernel,
    block_spin_levels,
    coarse_grain,
    coarse_grain_rbm,
)


def _configs(shape, seed=0):
    return np.random.default_rng(seed).choice(np.array([-1, 1], np.int8), size=shape)


def test_coarse_grain_majority_shapes_and_values():
    cfg = _configs((30, 8, 8))
    h = coarse_grain(cfg, MajorityRule(SquareLattice(8), 2), seed=0)
    assert h.shape == (30, 4, 4) and h.dtype == np.int8
    blk = cfg.reshape(30, 4, 2, 4, 2).transpose(0, 1, 3, 2, 4).reshape(30, 4, 4, 4)
    s = blk.sum(-1)
    np.testing.assert_array_equal(h, np.where(s > 0, 1, np.where(s < 0, -1, blk[..., 0])))
    # flat input works too, and a single configuration
    np.testing.assert_array_equal(
        coarse_grain(cfg.reshape(30, 64), MajorityRule(SquareLattice(8), 2), seed=0), h
    )
    assert coarse_grain(cfg[0], MajorityRule(SquareLattice(8), 2), seed=0).shape == (4, 4)
    with pytest.raises(ValueError, match="do not end with"):
        coarse_grain(cfg[:, :7, :7], MajorityRule(SquareLattice(8), 2), seed=0)


def test_block_spin_levels():
    cfg = _configs((10, 8, 8), seed=1)
    levels = block_spin_levels(cfg, SquareLattice(8), 2, 2)
    assert [x.shape for x in levels] == [(10, 8, 8), (10, 4, 4), (10, 2, 2)]
    again = coarse_grain(levels[1], MajorityRule(SquareLattice(4), 2), seed=0)
    np.testing.assert_array_equal(levels[2], again)
    dec = block_spin_levels(_configs((5, 27), 2), Chain(27), 3, 2, rule="decimation")
    np.testing.assert_array_equal(dec[2], dec[0][:, ::9])
    r1 = block_spin_levels(cfg, SquareLattice(8), 2, 2, tie="random", seed=4)
    r2 = block_spin_levels(cfg, SquareLattice(8), 2, 2, tie="random", seed=4)
    for a, b in zip(r1, r2, strict=True):
        np.testing.assert_array_equal(a, b)


def test_soft_kernel_and_machine_reproducible():
    cfg = _configs((100, 12), seed=2)
    op = SoftKernel(Chain(12), 3, 0.5)
    np.testing.assert_array_equal(coarse_grain(cfg, op, seed=3), coarse_grain(cfg, op, seed=3))
    assert not np.array_equal(coarse_grain(cfg, op, seed=3), coarse_grain(cfg, op, seed=4))
    m = GeneralBoltzmannMachine.random(12, 4, restricted=True, seed=1)
    mop = MachineOperator(m, np.zeros(2**12))
    np.testing.assert_array_equal(coarse_grain(cfg, mop, seed=5), coarse_grain(cfg, mop, seed=5))
    # general machine (h-h couplings) samples by enumeration
    g = GeneralBoltzmannMachine.random(12, 3, seed=2)
    assert coarse_grain(cfg, MachineOperator(g, np.zeros(2**12)), seed=1).shape == (100, 3)


def test_coarse_grain_rbm_modes_and_units():
    rng = np.random.default_rng(3)
    W, a, b = rng.normal(size=(16, 4)), rng.normal(size=16), rng.normal(size=4)

    class Spin:
        units = "spin"
        weights, visible_bias, hidden_bias = W, a, b

    cfg = _configs((20, 4, 4), seed=3)
    mean = coarse_grain_rbm(cfg, Spin(), mode="mean", coarse_shape=(2, 2))
    field = b + cfg.reshape(20, 16) @ W
    np.testing.assert_allclose(mean.reshape(20, 4), np.tanh(field), atol=1e-14)
    s = coarse_grain_rbm(cfg, Spin(), seed=1)
    assert s.shape == (20, 4) and s.dtype == np.int8
    np.testing.assert_array_equal(s, coarse_grain_rbm(cfg, Spin(), seed=1))
    with pytest.raises(ValueError, match="seed"):
        coarse_grain_rbm(cfg, Spin())

    class Binary:
        units = "binary"
        weights, visible_bias, hidden_bias = W, a, b

    mb = coarse_grain_rbm(cfg, Binary(), mode="mean")
    x = (cfg.reshape(20, 16) + 1) / 2
    np.testing.assert_allclose(mb, 2 / (1 + np.exp(-(b + x @ W))) - 1, atol=1e-14)


def _public_callables():
    for name in rg.__all__:
        obj = getattr(rg, name)
        if callable(obj):
            yield name, obj
            if inspect.isclass(obj):
                for mname, member in vars(obj).items():
                    if (
                        mname.startswith("_")
                        or not callable(member)
                        and not isinstance(member, (property, classmethod, staticmethod))
                    ):
                        continue
                    yield f"{name}.{mname}", member


def test_every_public_callable_cites_the_paper():
    """Acceptance 5: every public callable's docstring names an (MS n) equation or theory.md."""
    missing = []
    for name, obj in _public_callables():
        target = obj.fget if isinstance(obj, property) else getattr(obj, "__func__", obj)
        doc = inspect.getdoc(target) or ""
        if inspect.isclass(obj) and not doc:
            doc = ""
        if "MS" not in doc and "theory.md" not in doc:
            missing.append(name)
    assert not missing, f"docstrings without an (MS n) / theory.md reference: {missing}"
