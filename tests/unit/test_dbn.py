"""Deep belief networks: shapes, passes, receptive fields, save/load, greedy training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kadanoff._rng import torch_generator
from kadanoff.dbn import DeepBeliefNetwork, train_dbn
from kadanoff.rbm import BinaryRBM, SpinRBM
from kadanoff.rbm.train import get_preset, load_checkpoint
from kadanoff.spins import all_states


def hand_made_stack(units: str = "spin", sizes=(6, 4, 3, 2), seed: int = 0) -> DeepBeliefNetwork:
    rng = np.random.default_rng(seed)
    cls = SpinRBM if units == "spin" else BinaryRBM
    layers = [
        cls.from_parameters(
            rng.normal(0, 0.7, (n, m)),
            rng.normal(0, 0.2, n),
            rng.normal(0, 0.2, m),
            dtype=torch.float64,
        )
        for n, m in zip(sizes[:-1], sizes[1:], strict=True)
    ]
    return DeepBeliefNetwork(layers)


def test_sizes_and_validation():
    dbn = hand_made_stack()
    assert dbn.sizes == [6, 4, 3, 2] and dbn.depth == len(dbn) == 3
    with pytest.raises(ValueError, match="consecutive sizes must match"):
        DeepBeliefNetwork([SpinRBM(6, 4), SpinRBM(3, 2)])
    with pytest.raises(ValueError, match="at least one"):
        DeepBeliefNetwork([])
    with pytest.raises(TypeError):
        DeepBeliefNetwork([np.zeros((2, 2))])


def test_receptive_fields_are_products_of_weights():
    """r^(1) = W^(1), r^(l) = r^(l-1) W^(l) (theory.md section 6), biases ignored."""
    dbn = hand_made_stack()
    W1, W2, W3 = (m.weights for m in dbn.layers)
    r = dbn.receptive_fields()
    assert [tuple(x.shape) for x in r] == [(6, 4), (6, 3), (6, 2)]
    torch.testing.assert_close(r[0], W1, rtol=0, atol=1e-14)
    torch.testing.assert_close(r[1], W1 @ W2, rtol=0, atol=1e-12)
    torch.testing.assert_close(r[2], W1 @ W2 @ W3, rtol=0, atol=1e-12)
    # a hand-made stack of block-copy weights: level-2 fields are blocks of 4 sites
    blocks = [np.kron(np.eye(4), np.ones((2, 1))), np.kron(np.eye(2), np.ones((2, 1)))]
    dbn2 = DeepBeliefNetwork(
        [SpinRBM.from_parameters(w, np.zeros(w.shape[0]), np.zeros(w.shape[1])) for w in blocks]
    )
    r2 = dbn2.receptive_fields()[1].numpy()
    np.testing.assert_array_equal(r2, np.kron(np.eye(2), np.ones((4, 1))))


@pytest.mark.parametrize("units", ["spin", "binary"])
def test_up_down_shapes_and_mean_field_composition(units):
    dbn = hand_made_stack(units)
    v = torch.from_numpy(all_states(6)[:17].astype(np.float64))
    if units == "binary":
        v = (v + 1) / 2
    m1, m2, m3 = dbn.layers
    assert dbn.up(v, 0).shape == (17, 6)
    torch.testing.assert_close(dbn.up(v, 2), m2.hidden_mean(m1.hidden_mean(v)), rtol=0, atol=0)
    top = dbn.up(v)
    assert top.shape == (17, 2)
    down = dbn.down(top, 3)
    torch.testing.assert_close(
        down, m1.visible_mean(m2.visible_mean(m3.visible_mean(top))), rtol=0, atol=0
    )
    rec = dbn.reconstruct(v, 2)
    assert rec.shape == (17, 6)
    g = torch_generator(1)
    hs = dbn.up(v, 3, sample=True, generator=g)
    up_value, down_value = (1.0, -1.0) if units == "spin" else (1.0, 0.0)
    assert set(torch.unique(hs).tolist()) <= {up_value, down_value}
    with pytest.raises(ValueError, match="depth"):
        dbn.up(v, 4)


def test_sample_shape_values_and_seed():
    dbn = hand_made_stack()
    a = dbn.sample(50, seed=3, n_gibbs=20)
    b = dbn.sample(50, seed=3, n_gibbs=20)
    c = dbn.sample(50, seed=4, n_gibbs=20)
    assert a.shape == (50, 6) and set(torch.unique(a).tolist()) <= {-1.0, 1.0}
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_save_load_round_trip(tmp_path):
    from kadanoff.dbn import load_model, save_model

    dbn = hand_made_stack()
    save_model(dbn, tmp_path / "dbn.safetensors", metadata={"note": "hand made"})
    back = load_model(tmp_path / "dbn.safetensors")
    assert isinstance(back, DeepBeliefNetwork) and back.sizes == dbn.sizes
    for x, y in zip(back.layers, dbn.layers, strict=True):
        for p, q in zip(x.parameters(), y.parameters(), strict=True):
            assert torch.equal(p, q)


def _ring_data(n=8, n_samples=400, seed=0):
    rng = np.random.default_rng(seed)
    s = all_states(n).astype(np.float64)
    w = np.exp(0.5 * (s * np.roll(s, -1, 1)).sum(1))
    return all_states(n)[rng.choice(len(s), n_samples, p=w / w.sum())]


@pytest.mark.parametrize("next_layer_input", ["probabilities", "samples"])
def test_train_dbn_greedy_reproducible(next_layer_input, tmp_path):
    data = _ring_data()
    cfg = get_preset("spin", epochs=2, batch_size=50)
    kw = dict(seed=5, next_layer_input=next_layer_input, progress=False)
    seen = []

    class Record:
        def on_epoch_end(self, epoch, model, metrics):
            seen.append((metrics["layer"], epoch))

    a = train_dbn([8, 6, 3], data, cfg, callbacks=[Record()], **kw).dbn
    b = train_dbn([8, 6, 3], data, [cfg, cfg.replace(epochs=2)], checkpoint_dir=tmp_path, **kw).dbn
    assert a.sizes == [8, 6, 3]
    assert seen == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for x, y in zip(a.layers, b.layers, strict=True):
        assert torch.equal(x.weights, y.weights)
    assert load_checkpoint(tmp_path / "layer1")["start_epoch"] == 2
    # the layers use independent streams: not the same initial weights
    assert not torch.equal(a.layers[0].weights[:3, :3], a.layers[1].weights[:3, :3])
    with pytest.raises(ValueError, match="one per layer"):
        train_dbn([8, 6, 3], data, [cfg], **kw)


def test_train_dbn_returns_each_layers_training_result(tmp_path):
    data = _ring_data()
    cfg = get_preset("spin", epochs=2, batch_size=50)
    fit = train_dbn([8, 6, 3], data, cfg, seed=5, progress=False, checkpoint_dir=tmp_path)
    assert [r.model for r in fit.layers] == fit.dbn.layers
    assert [r.epochs_done for r in fit.layers] == [2, 2]
    for layer, history in enumerate(fit.histories):
        assert [h["layer"] for h in history] == [layer, layer]
        assert history == load_checkpoint(tmp_path / f"layer{layer}")["history"]
    # a rerun resumes from the checkpoints and reports the same histories
    again = train_dbn([8, 6, 3], data, cfg, seed=5, progress=False, checkpoint_dir=tmp_path)
    assert again.histories == fit.histories


def test_rbm_files_and_dbn_files_have_their_own_loaders(tmp_path):
    from kadanoff.dbn import load_model, save_model
    from kadanoff.io import FileFormatError
    from kadanoff.rbm import io as rbm_io

    dbn = hand_made_stack()
    path = save_model(dbn, tmp_path / "dbn")
    with pytest.raises(FileFormatError, match="kadanoff.dbn.load_model"):
        rbm_io.load_model(path)
    with pytest.raises(TypeError, match="kadanoff.dbn.save_model"):
        rbm_io.save_model(dbn, tmp_path / "x")
    rbm_path = rbm_io.save_model(dbn.layers[0], tmp_path / "rbm")
    assert torch.equal(load_model(rbm_path).weights, dbn.layers[0].weights)
