"""Training precision: config, the ``auto`` rule and probe, and the bf16-mixed trainer's exact
properties (issue 13). Statistical equivalence: tests/statistical/test_bf16_training.py."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
import torch

from kadanoff.rbm import BinaryRBM, SpinRBM
from kadanoff.rbm import precision as P
from kadanoff.rbm.train import TrainConfig, cd_gradient, load_checkpoint, train_rbm
from kadanoff.rbm.train import Trainer as _Trainer
from kadanoff.rbm.train.mixed import MixedTrainer, bf16_bits


# ------------------------------------------------------------------ config
def test_precision_field_defaults_validates_and_round_trips():
    assert TrainConfig().precision is None  # as dtype
    assert TrainConfig().replace(dtype="float64").dtype == "float64"
    assert TrainConfig(precision="float64").dtype == "float64"
    for name in ("bf16-mixed", "auto"):
        c = TrainConfig(precision=name)
        assert c.dtype == "float32" and c.precision == name
        assert TrainConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    old = TrainConfig().to_dict()
    del old["precision"]  # a checkpoint written before the field existed
    assert TrainConfig.from_dict(old) == TrainConfig()
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainConfig(precision="fp16")
    with pytest.raises(ValueError, match="conflicts with dtype='float64'"):
        TrainConfig(precision="bf16-mixed", dtype="float64")
    with pytest.raises(ValueError, match="conflicts with dtype='float64'"):
        TrainConfig(precision="float32", dtype="float64")


# ------------------------------------------------------------------ the auto rule
@pytest.mark.parametrize(
    ("speedup", "choice"),
    [(0.01, "float32"), (1.0, "float32"), (1.49, "float32"), (1.5, "bf16-mixed"),
     (3.7, "bf16-mixed"), (math.nan, "float32")],
)  # fmt: skip
def test_auto_rule_picks_bf16_only_when_at_least_threshold_faster(speedup, choice):
    assert P.choose_precision(speedup) == choice


@pytest.mark.parametrize("speedup", [0.02, 1.2, 2.5])
def test_resolve_auto_records_probe_and_choice(monkeypatch, speedup):
    fake = P.MatmulProbe(1.0, 1.0 / speedup, speedup, 1.0, speedup, 3, ((1, 2, 3),), "cpu")
    monkeypatch.setattr(P, "_cached_probe", lambda shapes, device: fake)
    used, info = P.resolve_precision("auto", 16, 8, 10, 10, "cpu")
    assert used == ("bf16-mixed" if speedup >= 1.5 else "float32") == info["used"]
    assert info["requested"] == "auto" and info["probe"]["speedup"] == speedup
    json.dumps(info, allow_nan=False)
    assert P.resolve_precision("float64", 16, 8, 10, 10, "cpu") == (
        "float64",
        {"requested": "float64", "used": "float64"},
    )


def test_real_probe_is_short_and_finite():
    shapes = P.cd_shapes(256, 64, 100, 100)
    assert shapes == ((100, 256, 64), (100, 64, 256), (257, 200, 65))
    t = time.perf_counter()
    probe = P.probe_matmul(shapes)
    assert time.perf_counter() - t < 1.0  # budget 30 ms plus warm-up
    assert probe.rounds >= 1 and probe.float32_s > 0 and probe.bf16_s > 0
    assert probe.speedup == pytest.approx(probe.float32_s / probe.bf16_s)
    print(f"probe 256x64 batch 100: bf16 {probe.speedup:.2f}x float32")


def test_auto_run_records_choice_in_result_and_checkpoint(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.choice([-1.0, 1.0], size=(200, 12))
    cfg = TrainConfig(epochs=2, batch_size=50, precision="auto", monitor_size=50)
    r = train_rbm((12, 4), data, cfg, seed=1, progress=False, checkpoint_dir=tmp_path)
    assert r.precision["requested"] == "auto" and r.precision["used"] in ("float32", "bf16-mixed")
    assert r.precision["probe"]["shapes"] == [[50, 12, 4], [50, 4, 12], [13, 100, 5]]
    ck = load_checkpoint(tmp_path)
    assert ck is not None and ck["precision"] == r.precision
    assert json.loads((tmp_path / "checkpoint.json").read_text())["precision"] == r.precision


# ------------------------------------------------------------------ bf16-mixed: exact facts
def test_bf16_bits_round_to_nearest_even_like_torch():
    x = np.random.default_rng(1).normal(0, 3, 5000).astype(np.float32)
    x = np.concatenate([x, [0.0, 1.0, -1.0, 0.5, 1 + 2**-8, 1 + 3 * 2**-8, -(1 + 2**-8)]])
    ours = np.array([bf16_bits(v) for v in x], dtype=np.uint16)
    ref = torch.from_numpy(x.astype(np.float32)).bfloat16().view(torch.int16).numpy()
    np.testing.assert_array_equal(ours, ref.view(np.uint16))


@pytest.mark.parametrize("units", ["spin", "binary"])
@pytest.mark.parametrize("persistent", [False, True])
def test_mixed_samples_equal_float32_samples_for_dyadic_parameters(units, persistent):
    """Weights and biases on multiples of 1/16 and small sums make every bf16 product exact,
    so with the same seed the bf16-mixed trainer draws exactly the float32 trainer's units."""
    rng = np.random.default_rng(3)
    nv, nh, B = 7, 5, 12
    W = rng.integers(-8, 9, (nv, nh)) / 16
    a, b = rng.integers(-4, 5, nv) / 16, rng.integers(-4, 5, nh) / 16
    cls = SpinRBM if units == "spin" else BinaryRBM
    model = cls.from_parameters(W, a, b, dtype=torch.float32)
    cfg = TrainConfig(batch_size=B, units=units, cd_k=2, persistent=persistent)
    v = rng.integers(0, 2, (B, nv)).astype(np.float32)
    v = torch.from_numpy(2 * v - 1 if units == "spin" else v)
    ss = np.random.SeedSequence(9)
    t32, t16 = _Trainer(model, cfg, B, B, ss), MixedTrainer(model, cfg, B, B, ss)
    if persistent:
        for t in (t32, t16):
            t.set_chains(v.flip(0), torch.Generator().manual_seed(5))
    G32 = t32.statistics(v, torch.Generator().manual_seed(4))
    G16 = t16.statistics(v, torch.Generator().manual_seed(4))
    torch.testing.assert_close(t16.V.float(), t32.V, rtol=0, atol=0)
    # means in H are rounded to bf16 once (relative error <= 2^-9), the product sums once more
    torch.testing.assert_close(t16.H.float(), t32.H, rtol=2**-8, atol=1e-6)
    torch.testing.assert_close(G16, G32, rtol=2**-7, atol=B * nv * 2**-8)


def test_mixed_step_updates_float32_master_weights_below_bf16_spacing():
    """One step adds lr * G / B in float32, even when that is far below the bf16 spacing of
    the weights (a bf16 copy of W would not change at all)."""
    rng = np.random.default_rng(5)
    nv, nh, B = 6, 4, 8
    model = SpinRBM.from_parameters(
        np.ones((nv, nh)), np.zeros(nv), np.zeros(nh), dtype=torch.float32
    )
    cfg = TrainConfig(batch_size=B)
    v = torch.from_numpy(2.0 * rng.integers(0, 2, (B, nv)) - 1).float()
    ss = np.random.SeedSequence(2)
    t1, t2 = MixedTrainer(model, cfg, B, B, ss), MixedTrainer(model, cfg, B, B, ss)
    G = t1.statistics(v, torch.Generator().manual_seed(3)) / B
    lr = 1e-4  # |lr G| < 2^-9: lost in bf16 arithmetic at |W| = 1
    old = t2.P.clone()
    t2.step(v, torch.Generator().manual_seed(3), lr, 0.0)
    expected = old + lr * G
    expected[nv, nh] = 0.0
    torch.testing.assert_close(t2.P, expected, rtol=0, atol=1e-7)
    assert (t2.P[:nv, :nh] != 1.0).any()
    assert torch.equal(t2.W16, t2.P[:nv, :nh].bfloat16())  # the operand copy is refreshed
    assert t2.velocity.dtype == t2.P.dtype == torch.float32


def test_cd_gradient_bf16_mixed_needs_float32_model():
    m = SpinRBM.from_parameters(np.zeros((3, 2)), np.zeros(3), np.zeros(2), dtype=torch.float64)
    with pytest.raises(ValueError, match="conflicts with dtype='float64'"):
        cd_gradient(m, np.ones((4, 3)), seed=1, precision="bf16-mixed")
    g = cd_gradient(m.to(dtype=torch.float32), np.ones((4, 3)), seed=1, precision="bf16-mixed")
    assert g["weights"].dtype == torch.float32


# ------------------------------------------------------------------ CLI
def test_cli_precision_flag_records_choice_in_model_metadata(tmp_path, capsys):
    from kadanoff import Chain, IsingModel
    from kadanoff.cli import main
    from kadanoff.cli import train as cli_train
    from kadanoff.ising.dataset import generate_dataset, save_dataset
    from kadanoff.rbm.io import load_model

    assert cli_train._PRECISIONS == P.PRECISIONS
    ds = generate_dataset(IsingModel(Chain(8), 0.5), 200, algorithm="exact", seed=1, progress=False)
    data = save_dataset(ds, tmp_path / "d.npz")
    base = ["train", "--data", str(data), "--hidden", "3", "--epochs", "2", "--quiet"]
    base += ["--batch-size", "50", "--seed", "1"]
    for precision in ("bf16-mixed", "auto"):
        out = tmp_path / precision
        assert main([*base, "--precision", precision, "--out", str(out)]) == 0
        meta = json.loads((out / "model.json").read_text())["metadata"]
        assert meta["config"]["precision"] == precision
        assert meta["precision"]["requested"] == precision
        assert meta["precision"]["used"] in ("float32", "bf16-mixed")
        assert load_model(out / "model.safetensors").dtype == torch.float32
    with pytest.raises(SystemExit) as e:
        main([*base, "--precision", "fp8", "--out", str(tmp_path / "x")])
    assert e.value.code == 2
    bad = ["--precision", "bf16-mixed", "--dtype", "float64", "--out", str(tmp_path / "y")]
    rc = main([*base, *bad])
    assert rc == 2
    assert "conflicts with --dtype='float64'" in capsys.readouterr().err


@pytest.mark.parametrize("units", ["spin", "binary"])
def test_mixed_device_code_path_equals_float32_on_cpu(units):
    """The path used off the CPU (uniforms from torch.rand, no compiled kernels), forced on
    the CPU: with dyadic parameters the bf16-mixed trainer draws the float32 trainer's units."""
    from kadanoff.rbm.train import UnitStream as _Stream

    rng = np.random.default_rng(8)
    nv, nh, B = 6, 5, 10
    W = rng.integers(-8, 9, (nv, nh)) / 16
    a, b = rng.integers(-4, 5, nv) / 16, rng.integers(-4, 5, nh) / 16
    cls = SpinRBM if units == "spin" else BinaryRBM
    model = cls.from_parameters(W, a, b, dtype=torch.float32)
    cfg = TrainConfig(batch_size=B, units=units, cd_k=2)
    v = rng.integers(0, 2, (B, nv)).astype(np.float32)
    v = torch.from_numpy(2 * v - 1 if units == "spin" else v)
    out = []
    for t in (_Trainer(model, cfg, B, B, np.random.SeedSequence(1)),
              MixedTrainer(model, cfg, B, B, np.random.SeedSequence(1))):  # fmt: skip
        t.Uh, t.Uv = torch.empty(B, nh), torch.empty(B, nv)
        t._Uh_B, t._Uh_C, t._Uv_C = t.Uh, t.Uh, t.Uv
        g = torch.Generator().manual_seed(6)
        s = _Stream(g)
        s.generator = g
        out.append((t.statistics(v, s), t.V.float().clone(), t.H.float().clone()))
    (G32, V32, H32), (G16, V16, H16) = out
    torch.testing.assert_close(V16, V32, rtol=0, atol=0)
    torch.testing.assert_close(H16, H32, rtol=2**-8, atol=1e-6)
    torch.testing.assert_close(G16, G32, rtol=2**-7, atol=B * nv * 2**-8)


@pytest.mark.gpu
def test_cuda_bf16_mixed_trainer_throughput_batch_10000():
    """1600 x 400 CD-1 at batch 10,000 on CUDA (goal >= 10M samples/s; printed)."""
    data = np.random.default_rng(0).choice(np.array([-1.0, 1.0], np.float32), (100_000, 1600))
    for precision in ("float32", "bf16-mixed"):
        cfg = TrainConfig(epochs=3, batch_size=10_000, device="cuda", units="binary",
                          precision=precision, monitor_size=100)  # fmt: skip
        r = train_rbm((1600, 400), data, cfg, seed=1, progress=False)
        rate = 100_000 / min(h["time"] for h in r.history)
        print(f"CUDA {precision} CD-1 1600x400 batch 10,000: {rate:,.0f} samples/s")
        assert rate > 1e6


def test_auto_resume_keeps_the_recorded_choice(tmp_path, monkeypatch):
    """A resumed ``auto`` run uses the precision its checkpoint recorded (not a new probe), so
    it equals the uninterrupted run bit for bit."""
    rng = np.random.default_rng(2)
    data = rng.choice([-1.0, 1.0], size=(200, 12))
    fast = P.MatmulProbe(1.0, 0.25, 4.0, 1.0, 4.0, 3, ((1, 2, 3),), "cpu")
    slow = P.MatmulProbe(1.0, 4.0, 0.25, 1.0, 0.25, 1, ((1, 2, 3),), "cpu")
    cfg = TrainConfig(epochs=4, batch_size=50, precision="auto", monitor_size=50)
    monkeypatch.setattr(P, "_cached_probe", lambda shapes, device: fast)
    whole = train_rbm((12, 4), data, cfg, seed=3, progress=False)
    assert whole.precision["used"] == "bf16-mixed"
    with pytest.raises(KeyboardInterrupt):  # killed during epoch 3
        train_rbm((12, 4), data, cfg, seed=3, progress=False, checkpoint_dir=tmp_path,
                  callbacks=[_KillAt(2)])  # fmt: skip
    assert load_checkpoint(tmp_path)["start_epoch"] == 2
    monkeypatch.setattr(P, "_cached_probe", lambda shapes, device: slow)
    resumed = train_rbm((12, 4), data, cfg, seed=3, progress=False, checkpoint_dir=tmp_path)
    assert resumed.precision["used"] == "bf16-mixed" and resumed.epochs_done == 4
    for p, q in zip(whole.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(p, q)


class _KillAt:
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, epoch, model, metrics):
        if epoch == self.epoch:
            raise KeyboardInterrupt
