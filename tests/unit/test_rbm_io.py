"""Model files: exact round trips, atomic writes, and refusal of bad files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from kadanoff.io import FileFormatError
from kadanoff.rbm import BinaryRBM, SpinRBM
from kadanoff.rbm.io import load_model, model_paths, save_model


def random_rbm(cls, nv, nh, seed, dtype=torch.float64):
    r = np.random.default_rng(seed)
    return cls.from_parameters(
        r.normal(size=(nv, nh)), r.normal(size=nv), r.normal(size=nh), dtype=dtype
    )


def assert_same(a, b):
    assert type(a) is type(b)
    assert a.dtype == b.dtype
    for x, y in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(x, y)


@pytest.mark.parametrize("cls", [SpinRBM, BinaryRBM])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rbm_round_trip_exact(tmp_path, cls, dtype):
    m = random_rbm(cls, 7, 3, seed=1, dtype=dtype)
    meta = {"config": {"lr": 0.1, "epochs": 5}, "seed": 123}
    out = save_model(m, tmp_path / "model", metadata=meta)
    assert out == tmp_path / "model.safetensors" and out.is_file()
    side = json.loads((tmp_path / "model.json").read_text())
    assert side["kind"] == "rbm" and side["layers"][0]["units"] == cls.units
    assert side["layers"][0]["dtype"] == str(dtype).removeprefix("torch.")
    assert side["metadata"] == meta and "numpy" in side["environment"]
    with safe_open(str(out), framework="pt") as f:  # header carries the same description
        assert json.loads(f.metadata()["kadanoff"])["metadata"] == meta
    loaded = load_model(out)
    assert_same(loaded, m)
    assert_same(load_model(tmp_path / "model"), m)  # suffix optional


def test_dbn_round_trip_exact(tmp_path):
    dbn_mod = pytest.importorskip(
        "kadanoff.dbn", reason="kadanoff.dbn (DeepBeliefNetwork) is not written yet"
    )
    layers = [
        random_rbm(BinaryRBM, 8, 5, seed=1, dtype=torch.float32),
        random_rbm(BinaryRBM, 5, 3, seed=2, dtype=torch.float32),
        random_rbm(SpinRBM, 3, 2, seed=3, dtype=torch.float64),
    ]
    from kadanoff.dbn import load_model, save_model

    dbn = dbn_mod.DeepBeliefNetwork(layers)
    path = save_model(dbn, tmp_path / "dbn.safetensors", metadata={"seed": 7})
    with safe_open(str(path), framework="pt") as f:
        assert "layers.1.weights" in set(f.keys())
    loaded = load_model(path)
    assert isinstance(loaded, dbn_mod.DeepBeliefNetwork)
    assert len(loaded.layers) == 3
    for a, b in zip(loaded.layers, layers, strict=True):
        assert_same(a, b)


def test_writes_are_atomic(tmp_path, monkeypatch):
    m = random_rbm(SpinRBM, 4, 2, seed=0)
    path = save_model(m, tmp_path / "m.safetensors")
    before = path.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.safetensors"]

    def failing_save(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr("safetensors.torch.save_file", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_model(random_rbm(SpinRBM, 4, 2, seed=1), path)
    assert path.read_bytes() == before  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.safetensors"]


def test_save_refuses_bad_models(tmp_path):
    m = random_rbm(SpinRBM, 3, 2, seed=0)
    m.weights[0, 0] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        save_model(m, tmp_path / "x")
    with pytest.raises(TypeError, match="RBM or a DeepBeliefNetwork"):
        save_model({"weights": 1}, tmp_path / "x")
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------- refusals on load
@pytest.fixture
def good(tmp_path):
    """A valid saved model: (path, tensors, header info)."""
    m = random_rbm(SpinRBM, 4, 3, seed=5, dtype=torch.float32)
    path = save_model(m, tmp_path / "good")
    with safe_open(str(path), framework="pt") as f:
        info = json.loads(f.metadata()["kadanoff"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    return path, tensors, info


def _craft(path, tensors, info):
    meta = None if info is None else {"kadanoff": json.dumps(info)}
    save_file(tensors, str(path), metadata=meta)
    return path


def test_load_refuses_missing_file(tmp_path):
    with pytest.raises(FileFormatError, match="no model file"):
        load_model(tmp_path / "nope.safetensors")


def test_load_refuses_truncated_and_corrupt(good, tmp_path):
    path, _, _ = good
    data = path.read_bytes()
    trunc = tmp_path / "trunc.safetensors"
    trunc.write_bytes(data[: len(data) - 10])
    with pytest.raises(FileFormatError, match="corrupt or truncated"):
        load_model(trunc)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00\x01not a safetensors file at all" * 3)
    with pytest.raises(FileFormatError, match="corrupt or truncated"):
        load_model(junk)
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    with pytest.raises(FileFormatError):
        load_model(empty)


def test_load_refuses_foreign_safetensors(good, tmp_path):
    _, tensors, info = good
    with pytest.raises(FileFormatError, match="without kadanoff metadata"):
        load_model(_craft(tmp_path / "foreign.safetensors", tensors, None))
    bad = dict(info, format="something.else")
    with pytest.raises(FileFormatError, match="does not describe"):
        load_model(_craft(tmp_path / "other.safetensors", tensors, bad))
    p = tmp_path / "badjson.safetensors"
    save_file(tensors, str(p), metadata={"kadanoff": "{not json"})
    with pytest.raises(FileFormatError, match="not valid JSON"):
        load_model(p)


def test_load_refuses_wrong_shapes(good, tmp_path):
    _, tensors, info = good
    t = dict(tensors, hidden_bias=torch.zeros(2))  # weights are 4 x 3
    with pytest.raises(FileFormatError, match="'hidden_bias' has shape"):
        load_model(_craft(tmp_path / "a.safetensors", t, info))
    t = dict(tensors, weights=torch.zeros(4, 2))
    with pytest.raises(FileFormatError, match="'weights' has shape"):
        load_model(_craft(tmp_path / "b.safetensors", t, info))
    t = {k: v for k, v in tensors.items() if k != "visible_bias"}
    with pytest.raises(FileFormatError, match="missing tensor 'visible_bias'"):
        load_model(_craft(tmp_path / "c.safetensors", t, info))
    t = dict(tensors, extra=torch.zeros(1))
    with pytest.raises(FileFormatError, match="unexpected tensors"):
        load_model(_craft(tmp_path / "d.safetensors", t, info))


def test_load_refuses_non_finite(good, tmp_path):
    _, tensors, info = good
    w = tensors["weights"].clone()
    w[1, 2] = float("inf")
    with pytest.raises(FileFormatError, match="non-finite"):
        load_model(_craft(tmp_path / "inf.safetensors", dict(tensors, weights=w), info))
    b = tensors["visible_bias"].clone()
    b[0] = float("nan")
    with pytest.raises(FileFormatError, match="non-finite"):
        load_model(_craft(tmp_path / "nan.safetensors", dict(tensors, visible_bias=b), info))


def test_load_refuses_wrong_dtype(good, tmp_path):
    _, tensors, info = good
    t = dict(tensors, weights=tensors["weights"].to(torch.float64))  # metadata says float32
    with pytest.raises(FileFormatError, match="has dtype torch.float64"):
        load_model(_craft(tmp_path / "a.safetensors", t, info))
    t = dict(tensors, weights=tensors["weights"].to(torch.int32))
    with pytest.raises(FileFormatError, match="has dtype torch.int32"):
        load_model(_craft(tmp_path / "b.safetensors", t, info))
    bad = json.loads(json.dumps(info))
    bad["layers"][0]["dtype"] = "float16"
    t16 = {k: v.to(torch.float16) for k, v in tensors.items()}
    with pytest.raises(FileFormatError, match="bad description of layer 0"):
        load_model(_craft(tmp_path / "c.safetensors", t16, bad))


def test_model_paths():
    assert model_paths("a/b")[0].name == "b.safetensors"
    assert model_paths("a/b.safetensors")[1].name == "b.json"
    assert model_paths("a/b.json")[0].name == "b.safetensors"


def test_load_model_accepts_the_train_out_folder(tmp_path):
    """``kadanoff train --out DIR`` writes DIR/model.safetensors; load_model(DIR) reads it."""
    m = random_rbm(SpinRBM, 5, 2, seed=3)
    save_model(m, tmp_path / "model.safetensors")
    assert_same(load_model(tmp_path), m)
    assert_same(load_model(str(tmp_path)), m)
    assert model_paths(tmp_path) == (tmp_path / "model.safetensors", tmp_path / "model.json")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileFormatError, match=r"no model file .*model\.safetensors"):
        load_model(empty)
