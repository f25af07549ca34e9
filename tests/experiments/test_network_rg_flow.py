"""RBM-flow experiment (Iso, Shiba & Yokoo 2018): QUICK compute, exact step-0 checks, plots."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from kadanoff.experiments.network_rg import flow
from kadanoff.io import read_npz

Z_MAX = 5.0


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rbm_flow")
    return folder, flow.compute(flow.QUICK, folder, seed=0)


def _strict(text):
    def bad(c):
        raise ValueError(f"non-strict JSON constant {c}")

    return json.loads(text, parse_constant=bad)


def test_metrics_table_and_json(run):
    folder, m = run
    cfg = flow.QUICK
    assert _strict((folder / "flow.json").read_text())["table"] == _strict(json.dumps(m))["table"]
    assert len(m["table"]) == len(cfg.settings) * len(cfg.modes)
    positions = {"near K_c", "above T_c", "below T_c", "no single fixed point"}
    for row in m["table"]:
        assert row["K_star_position"] in positions and row["K_star_E_position"] in positions
        if row["mode"] == "sample":  # the Gibbs chain has a finite, disordered-side end point
            for key in ("K_star", "K_star_E"):
                assert 0 < row[key] < 1.5 and row[f"{key}_err"] > 0
                assert abs(row[f"{key}_T"] - 1 / row[key]) < 1e-12
    assert m["K_critical"] == pytest.approx(math.log(1 + math.sqrt(2)) / 2, abs=1e-15)


def test_step_zero_reads_the_sampling_temperature(run):
    # the starting configurations are equilibrium Ising samples: both exact instruments must
    # return 1/T0 within their error bars (the energy coupling inverts Kaufman's exact energy)
    folder, _ = run
    arrays, meta = read_npz(folder / "flow.npz")
    for b, T0 in enumerate(meta["start_temperatures"]):
        kE, eE = arrays["K_E"][..., b, 0], arrays["K_E_error"][..., b, 0]
        assert np.all(np.abs(kE - 1 / T0) < Z_MAX * eE)
        if T0 >= 2:  # (deep in the ordered phase the energy hardly depends on K)
            assert np.all(np.abs(kE - 1.25 / T0) > Z_MAX * eE)  # a 25% wrong temperature fails
            k, e = arrays["K"][..., b, 0], arrays["K_error"][..., b, 0]
            assert np.all(np.abs(k - 1 / T0) < Z_MAX * e)
    assert np.all(np.abs(arrays["energy"]) <= 2) and np.all(arrays["abs_magnetization"] <= 1)


def test_claims_reading_and_plots(run):
    import matplotlib.image as mpimg

    folder, m = run
    cl = flow.claims(m)
    assert len(cl) == 2
    for c in cl:
        assert set(c) == {"claim", "how", "result", "verdict"}
        assert c["verdict"] in ("agrees", "differs", "inconclusive")
    text = flow.reading(m)
    assert isinstance(text, str) and "T_c" in text
    paths = flow.plot(folder)
    assert len(paths) == len(flow.QUICK.modes)
    for p in paths:
        img = mpimg.imread(p)
        assert img.ndim == 3 and img.shape[0] > 200


def test_config_rejects_bad_input():
    with pytest.raises(ValueError, match="even"):
        flow.Config(L=7, temperatures=(1, 2), samples_per_temperature=10,
                    start_temperatures=(1,), start_configs=10, n_steps=1, record=None,
                    settings=(flow.Setting(4),), n_seeds=2)  # fmt: skip
    with pytest.raises(ValueError, match="n_seeds"):
        flow.Config(L=8, temperatures=(1, 2), samples_per_temperature=10,
                    start_temperatures=(1,), start_configs=10, n_steps=1, record=None,
                    settings=(flow.Setting(4),), n_seeds=1)  # fmt: skip
    assert len(flow.PAPER.settings) >= 3 and flow.PAPER.n_seeds >= 3 and flow.PAPER.L == 16
    assert min(flow.PAPER.temperatures) == 1 and max(flow.PAPER.temperatures) == 4


def test_summary_table_and_figure(run):
    """network_rg summary: one table row per setting and mode, the sampled-flow figure."""
    folder, m = run
    s = flow.summary(m)
    (t,) = s["tables"]
    assert len(t["rows"]) == len(m["table"]) and all(len(r) == len(t["header"]) for r in t["rows"])
    assert [r[0] for r in t["rows"]] == [r["setting"] for r in m["table"]]
    assert s["figures"] == ["rbm_flow_sample.png"]
    assert "rbm_flow_sample.png" in [p.name for p in flow.plot(folder)]
