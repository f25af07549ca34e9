"""Files: every writer is atomic, fsyncs, honours the umask; JSON is strict; .npz refusals."""

from __future__ import annotations

import contextlib
import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from kadanoff import io as kio
from kadanoff.io import FileFormatError, read_npz, to_json, write_json, write_npz


@contextlib.contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield mask
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def reject_constant(name: str):
    raise ValueError(f"non-standard JSON constant {name}")


def strict_loads(text: str):
    """``json.loads`` that refuses NaN, Infinity and -Infinity, as strict parsers do."""
    return json.loads(text, parse_constant=reject_constant)


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])
    return fig


def _writers():
    """(name, function(path-folder) -> written paths) for every kind of file kadanoff writes."""
    import torch

    from kadanoff import Chain, IsingModel
    from kadanoff.ising.dataset import generate_dataset, save_dataset
    from kadanoff.rbm import SpinRBM
    from kadanoff.rbm.io import save_model

    def npz(d):
        return [write_npz(d / "a.npz", {"x": np.arange(3)}, {"k": 1})]

    def dataset(d):
        ds = generate_dataset(IsingModel(Chain(4), 0.5), 4, algorithm="exact", seed=0)
        return [save_dataset(ds, d / "ds.npz")]

    def model(d):
        rbm = SpinRBM.from_parameters(
            torch.zeros(3, 2), torch.zeros(3), torch.zeros(2), dtype=torch.float64
        )
        p = save_model(rbm, d / "m", metadata={"loss": float("nan")})
        return [p, p.with_suffix(".json")]

    def figures(d):
        fig = _figure()
        return [kio.save_figure(fig, d / "f.png", dpi=50), kio.save_figure(fig, d / "f.svg")]

    return {
        "bytes": lambda d: [kio.write_bytes(d / "a.bin", b"\x00\x01")],
        "text": lambda d: [kio.write_text(d / "a.txt", "héllo\n")],
        "json": lambda d: [write_json(d / "a.json", {"x": float("nan")})],
        "npz": npz,
        "dataset": dataset,
        "model": model,
        "figures": figures,
    }


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o027])
@pytest.mark.parametrize("kind", list(_writers()))
def test_every_writer_honours_the_umask(tmp_path, kind, mask):
    """Not mkstemp's 0600: the mode a plain open() gives, 0666 & ~umask, and no temp left."""
    with umask(mask):
        paths = _writers()[kind](tmp_path)
        for p in paths:
            assert mode(p) == 0o666 & ~mask, (p, oct(mode(p)))
        # replacing an existing file (``--force``) gives the same mode, whatever it had
        for p in paths:
            p.chmod(0o600)
        _writers()[kind](tmp_path)
        for p in paths:
            assert mode(p) == 0o666 & ~mask, (p, oct(mode(p)))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)


def test_figures_decode(tmp_path):
    import xml.etree.ElementTree as ET

    import matplotlib.image as mpimg

    fig = _figure()
    png = kio.save_figure(fig, tmp_path / "f.png", dpi=50)
    assert mpimg.imread(png).shape[:2] == (100, 100)
    assert ET.parse(kio.save_figure(fig, tmp_path / "f.svg")).getroot().tag.endswith("svg")


def test_atomic_write_fsyncs_before_rename_and_cleans_up_on_error(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(
        os, "replace", lambda a, b: (events.append(("replace", Path(b).name)), real_replace(a, b))
    )
    target = kio.write_text(tmp_path / "x.txt", "new")
    assert events[:2] == ["fsync", ("replace", "x.txt")]  # data on disk before the rename
    assert target.read_text() == "new"

    with pytest.raises(RuntimeError), kio.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer died")
    assert target.read_text() == "new"  # untouched
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]  # no temporary file left


def test_atomic_write_error_names_the_file_not_a_temporary(tmp_path):
    (tmp_path / "f").write_text("a file, not a folder")
    with pytest.raises(OSError) as e:
        write_json(tmp_path / "f" / "x.json", {})
    assert str(tmp_path / "f" / "x.json") in str(e.value) and ".tmp" not in str(e.value)
    # an existing folder where the file should go (the final rename fails)
    (tmp_path / "d.json").mkdir()
    with pytest.raises(IsADirectoryError) as e:
        write_json(tmp_path / "d.json", {})
    assert str(tmp_path / "d.json") in str(e.value) and ".tmp" not in str(e.value)
    # the writer fails (disk full) with an error naming the temporary file
    with pytest.raises(OSError) as e, kio.atomic_path(tmp_path / "big.npz") as tmp:
        raise OSError(28, "No space left on device", str(tmp))
    assert e.value.errno == 28 and "big.npz" in str(e.value) and ".tmp" not in str(e.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.json", "f"]


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        -float("inf"),
        np.float32("nan"),
        np.float64("-inf"),
        np.array([1.0, np.nan, np.inf]),
        {"nested": [1.5, (float("nan"), np.float16("inf"))]},
    ],
    ids=lambda v: type(v).__name__,
)
def test_json_is_strict_non_finite_is_null(value):
    text = to_json({"v": value})
    got = strict_loads(text)["v"]
    flat = got if isinstance(got, list) else [got]
    if isinstance(got, dict):
        flat = [got["nested"][0], *got["nested"][1]]
    assert None in flat and all(x is None or np.isfinite(x) for x in flat)


def test_json_keeps_finite_values_exactly(tmp_path):
    obj = {"a": 0.1 + 0.2, "b": np.float32(1.5), "c": np.int64(2**62), "d": [True, None, "s"]}
    p = write_json(tmp_path / "m.json", obj)
    expected = {"a": 0.1 + 0.2, "b": 1.5, "c": 2**62, "d": [True, None, "s"]}
    assert strict_loads(p.read_text()) == expected
    # the .npz metadata is strict too
    q = write_npz(tmp_path / "a.npz", {"x": np.zeros(1)}, {"tau": float("nan")})
    with np.load(q) as z:
        assert strict_loads(str(z["meta"])) == {"tau": None}


@pytest.mark.parametrize(
    "content, match",
    [
        (b"spins,meta\n1,2\n", "not an .npz archive"),
        (b"", "empty"),
        (None, "single-array .npy"),
    ],
    ids=["text", "empty", "npy"],
)
def test_read_npz_names_what_the_file_is(tmp_path, content, match):
    p = tmp_path / "data.npz"
    if content is None:
        with open(p, "wb") as f:
            np.save(f, np.zeros(3))
    else:
        p.write_bytes(content)
    with pytest.raises(FileFormatError, match=match) as e:
        read_npz(p)
    assert "pickle" not in str(e.value)


def test_read_npz_folder_and_missing(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder"):
        read_npz(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_npz(tmp_path / "nope.npz")
