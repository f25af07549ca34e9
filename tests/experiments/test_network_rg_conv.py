"""The conv-RBM RG experiment: QUICK compute, metrics against exact values and bounds, figures."""

from __future__ import annotations

import json

import matplotlib.image as mpimg
import numpy as np
import pytest

from kadanoff.experiments.network_rg import conv
from kadanoff.ising import K_CRITICAL


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    folder = tmp_path_factory.mktemp("conv")
    return folder, conv.compute(conv.QUICK, folder, seed=0)


def test_metrics_json_and_same_data(result):
    folder, m = result
    json.loads(json.dumps(m), parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    assert json.loads((folder / "metrics.json").read_text())["sizes"].keys() == m["sizes"].keys()
    for s in m["sizes"].values():
        assert s["same_data"]  # both rules blocked the same Ising configurations


def test_level_zero_couplings_are_the_ising_ones(result):
    """The fine level is the Ising model at K_c: K_nn = K_c, every other coupling 0 (z < 5)."""
    _, m = result
    for s in m["sizes"].values():
        for rule in conv.RULES:
            c0 = s[rule]["couplings"][0]
            assert abs(c0["K_nn"] - K_CRITICAL) < 5 * c0["K_nn_error"]
            for k in ("nnn", "3nn", "plaquette", "field"):
                assert abs(c0[f"K_{k}"]) < 5 * c0[f"K_{k}_error"]


def test_exponents_and_filter_within_sanity_bounds(result):
    _, m = result
    assert m["filter_min"] > 0 and m["visible_bias"] == 0 and m["hidden_bias"] == 0
    for s in m["sizes"].values():
        for rule in conv.RULES:
            yt, yh = s[rule]["y_t"], s[rule]["y_h"]
            assert 0.7 < yt["final"] < 1.3 and 0 < yt["final_err"] < 0.1
            assert 1.7 < yh["final"] < 2.0 and 0 < yh["final_err"] < 0.02
            g = s[rule]["G_quarter"]
            assert all(0 < x < 1 for x in g) and g[0] < g[-1]  # coarse spins correlate more
    for who in ("data", "model"):
        g = np.asarray(m[f"{who}_G"])
        assert g[0] == pytest.approx(1.0, abs=1e-12) and np.all((g[1:] > 0) & (g[1:] < 1))
    rows = conv.claims(m)
    assert rows and all(set(r) == {"claim", "how", "result", "verdict"} for r in rows)
    assert {r["verdict"] for r in rows} <= {"agrees", "differs", "inconclusive"}
    assert "majority" in conv.reading(m)


def test_plots_decode(result):
    folder, _ = result
    paths = conv.plot(folder)
    assert len(paths) == 4
    for p in paths:
        im = mpimg.imread(p)
        assert im.ndim == 3 and im.shape[0] > 100 and np.isfinite(im).all()


def test_config_rejects_bad_levels():
    with pytest.raises(ValueError, match="levels"):
        conv.Config(sizes=(32,), levels=(4,))


def test_summary_rows_are_the_metrics(result):
    """network_rg summary: exponents per level and couplings per level of both rules."""
    _, m = result
    s = conv.summary(m)
    for L, size in m["sizes"].items():
        for rule, key in (("conv RBM (sample)", "conv"), ("majority", "majority")):
            r = size[key]
            rows = [x for x in s["exponents"] if x["rule"] == rule and x["L"] == int(L)]
            assert [x["level"] for x in rows] == r["y_t"]["levels"]
            assert [x["y_h"] for x in rows] == r["y_h"]["values"]
            (c,) = [x for x in s["couplings"] if x["rule"] == rule and x["L"] == int(L)]
            assert c["K_nn"][0] == r["couplings"][0]["K_nn"] and len(c["levels"]) == len(
                r["couplings"]
            )
