"""Fig. 3 (2D) on a small lattice through the whole runner: sanity bounds, figures, report."""

import json
import os
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from test_report import decode_images

from kadanoff.cli import main
from kadanoff.experiments import fig2, fig3
from kadanoff.experiments.runner import reproduce
from kadanoff.io import read_npz

TINY = fig3.Config(
    L=16,
    K=0.408,
    n_samples=400,
    hidden=(64, 16, 4),
    epochs=2,
    n_eval=200,
    top_down_gibbs=20,
    seed=5,
)


#: the umask the shared run is made under: not the usual 022, so that a file written 0600
#: (mkstemp) or 0644 (umask ignored) is caught
UMASK = 0o027


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """`kadanoff reproduce` through the CLI, with the tiny configs as its quick preset."""
    out = tmp_path_factory.mktemp("reproduce") / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(fig3.PRESETS, "quick", TINY)
        mp.setitem(fig2.PRESETS, "quick", fig2.Config(chi2_samples=20_000))
        old = os.umask(UMASK)
        try:
            assert main(["reproduce", "--out", str(out), "--quiet"]) == 0
        finally:
            os.umask(old)
    return out, json.loads((out / "metrics.json").read_text())


def test_data_energy_matches_kaufman(run):
    _, m = run
    d = m["fig3"]["data"]
    # effectively independent samples (thinned by 2 tau): z from the standard error
    assert abs(d["energy_z"]) < 4.5
    assert d["specific_heat_z"] is not None and abs(d["specific_heat_z"]) < 4.5


def test_metrics_are_complete_and_sane(run):
    _, m = run
    f = m["fig3"]
    assert f["layer_sizes"] == [256, 64, 16, 4]
    for tag in ("l1", "no_l1"):
        layers = f["receptive_fields"][tag]
        assert [x["n_units"] for x in layers] == [64, 16, 4]
        for x in layers:
            # a field can be no larger than a uniform one (R_g = L / sqrt 6) nor cover more sites
            assert 0 <= x["radius_of_gyration"] <= 16 / np.sqrt(6) + 1e-9
            assert 1 <= x["participation_ratio"] <= 256 + 1e-9
            assert 0 <= x["hoyer_sparsity"] <= 1
    for b, bf in f["block_fields"].items():
        assert bf["participation_ratio"] == pytest.approx(int(b) ** 2)
        assert bf["core_area"] == int(b) ** 2  # a uniform block is its own core
        assert bf["coverage_ratio"] == pytest.approx(1.0)
    for name, o in f["observables"].items():
        assert -2 * 0.408 <= o["energy_per_site"]["mean"] <= 2 * 0.408, name
        assert 0 <= o["abs_magnetization"]["mean"] <= 1, name
    # block spins of a paramagnet decorrelate: |m| grows as the block lattice shrinks
    assert set(f["block_spins"]) == {"2", "4", "8"}
    corr = f["correlation"]["data"]
    assert corr[0] == pytest.approx(1.0) and all(0 < c < 1 for c in corr[1:])


def test_report_and_files(run):
    out, m = run
    text = (out / "report.html").read_text()
    parser, images = decode_images(text)
    assert len(images) >= 6  # fig2 + five fig3 figures
    assert all(np.isfinite(im).all() and im.shape[0] > 50 for im in images)
    first = "".join(parser.first_table_text)
    assert "Claim" in first and "trace condition" in first
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["claims"] and saved["fig3"]["n_samples"] == 400
    for pattern in ("dataset_*.npz", "dbn_l1_*.safetensors", "dbn_no_l1_*.safetensors"):
        assert len(list((out / "fig3").glob(pattern))) == 1, pattern
    history = json.loads((out / "fig3" / "training_history.json").read_text())
    assert sorted(history) == [f"{t}/layer{i}" for t in ("l1", "no_l1") for i in range(3)]
    assert all(len(h) == TINY.epochs for h in history.values())


def _strict(text):
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_every_output_is_group_readable_and_strict(run):
    """Walk every file `kadanoff reproduce` wrote: mode 0666 & ~umask (not mkstemp's 0600),
    no temporary left, every JSON (files, .npz and .safetensors metadata) strict, every
    figure decodable, the report's images too (test_report_and_files)."""
    import matplotlib.image as mpimg
    from safetensors import safe_open

    out, _ = run
    files = sorted(p for p in out.rglob("*") if p.is_file())
    kinds = {p.suffix for p in files}
    assert {".json", ".npz", ".safetensors", ".png", ".svg", ".html"} <= kinds, kinds
    for p in files:
        assert p.stat().st_mode & 0o777 == 0o666 & ~UMASK, (p, oct(p.stat().st_mode))
        assert not p.name.startswith(".") and ".tmp" not in p.name and ".partial" not in p.name
        if p.suffix == ".json":
            _strict(p.read_text())
        elif p.suffix == ".jsonl":
            [_strict(line) for line in p.read_text().splitlines()]
        elif p.suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                _strict(str(z["meta"]))
            read_npz(p)
        elif p.suffix == ".safetensors":
            with safe_open(str(p), framework="pt") as f:
                _strict(f.metadata()["kadanoff"])
        elif p.suffix == ".png":
            assert mpimg.imread(p).ndim == 3
        elif p.suffix == ".svg":
            assert ET.parse(p).getroot().tag.endswith("svg")
        elif p.suffix == ".html":
            _, images = decode_images(p.read_text())
            assert images and all(np.isfinite(im).all() for im in images)
    for d in [out, *(p for p in out.rglob("*") if p.is_dir())]:
        assert d.stat().st_mode & 0o777 == 0o777 & ~UMASK, d


def test_null_metrics_are_shown_not_crashed_on(run):
    """metrics.json writes a NaN or inf as null: claims, tables and text still render."""
    import copy

    from kadanoff.experiments.report import _fmt

    m = copy.deepcopy(run[1]["fig3"])
    m["data"]["energy_z"] = None
    for layers in m["receptive_fields"].values():
        for x in layers:
            x["localized_radius"] = x["radius_of_gyration"] = x["nn_cv"] = None
    for bf in m["block_fields"].values():
        bf["localized_radius"] = None
    claims = fig3.claims(m)
    assert "nan" in claims[1].result and claims[1].holds is False
    assert fig3.tables(m) and fig3.reading(m)
    assert _fmt(None) == _fmt(float("nan")) == "n/a"


def test_rerun_uses_cache(run):
    out, m = run
    lines = []
    reproduce("quick", out, only=["fig3"], progress=False, log=lines.append, configs={"fig3": TINY})
    assert any("cached" in line for line in lines)


@pytest.mark.slow
def test_quick_preset_claims(tmp_path):
    """The quick preset end to end: L1 makes layer-1 fields more local than no L1."""
    m = reproduce("quick", tmp_path, only=["fig3"], progress=False, log=lambda *a: None)
    rf = m["fig3"]["receptive_fields"]
    assert rf["l1"][0]["localized_fraction"] > rf["no_l1"][0]["localized_fraction"]
    assert rf["l1"][0]["core_area"] < rf["no_l1"][0]["core_area"]
    radii = [x["localized_radius"] for x in rf["l1"]]
    assert radii[0] < radii[1] < radii[2]  # fields grow with depth
    assert abs(m["fig3"]["data"]["energy_z"]) < 4.5


def test_interrupted_run_resumes_from_saved_stages(run):
    """Finished stages (dataset, first network) are reused; only the missing one is redone."""
    out, _ = run
    folder = out / "fig3"
    (folder / "config.json").unlink()  # as if the run died before finishing
    dataset = next(folder.glob("dataset_*.npz"))
    first = next(folder.glob("dbn_l1_*.safetensors"))
    second = next(folder.glob("dbn_no_l1_*.safetensors"))
    second.unlink()
    stamps = (dataset.stat().st_mtime_ns, first.stat().st_mtime_ns)
    lines = []
    again = reproduce(
        "quick", out, only=["fig3"], progress=False, log=lines.append, configs={"fig3": TINY}
    )
    assert not any("cached" in line for line in lines)
    assert (dataset.stat().st_mtime_ns, first.stat().st_mtime_ns) == stamps
    assert second.exists()
    assert again["fig3"]["data"] == run[1]["fig3"]["data"]
