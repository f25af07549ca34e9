"""The MI-rule experiment (issue 11, item 3): QUICK compute, metrics against exact values and
sanity bounds, claims, reading, and every figure decodes."""

from __future__ import annotations

import json
import math

import matplotlib.image as mpimg
import numpy as np
import pytest

from kadanoff.experiments.network_rg import mi
from kadanoff.rg.mutual_information import (
    block_geometry,
    decimation_table,
    exact_mutual_information,
    majority_table,
)

VERDICTS = {"agrees", "differs", "inconclusive"}


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mi")
    return folder, mi.compute(mi.QUICK, folder, seed=0)


def test_metrics_exact_and_bounds(quick):
    folder, m = quick
    json.dumps(m, allow_nan=False)  # JSON-able
    assert json.loads((folder / "metrics.json").read_text())["exact"] == m["exact"]
    ex = m["exact"]
    g = block_geometry((4, 4), 2)
    K = m["train"]["K"]
    assert ex["torus_majority"] == pytest.approx(
        exact_mutual_information(K, g, majority_table(4)), abs=1e-12
    )
    r = block_geometry((16,), 2, buffer=mi.QUICK.chain_buffer, width=3)
    assert ex["ring_decimation"] == pytest.approx(
        exact_mutual_information(mi.QUICK.chain_K, r, decimation_table(2)), abs=1e-12
    )
    t = m["train"]
    for key, v in {**t["mi"], **t["chain"]["mi"]}.items():
        if not key.endswith("_err"):
            assert 0 < v < math.log(2)
    # the learned (sign) filter cannot beat the exact optimum by more than noise and is
    # at least as informative as decimation
    assert t["mi"]["symmetric_sign"] > t["mi"]["decimation"]
    for f in t["filters"].values():
        assert -1 <= f["cosine_uniform"] <= 1 and 0.25 <= f["concentration"] <= 1
    assert t["filters"]["symmetric"]["bias"] == 0.0
    assert 0.5 <= t["chain"]["filter"]["concentration"] <= 1
    # every rule is measured on the same configurations: identical level-0 correlations
    mcrg = json.loads((folder / "mcrg.json").read_text())
    for per in mcrg.values():
        g0 = [per[r]["correlations"][0]["G"] for r in ("majority", "mi_symmetric", "mi_free_bias")]
        assert g0[0] == g0[1] == g0[2]
    for key, r in m["mcrg"].items():
        assert 0.5 < r["y_t"] < 1.5 and 1.5 < r["y_h"] < 2.1, key
        assert 0 < r["y_t_err"] < 0.2 and 0 < r["y_h_err"] < 0.1
        assert 0 < r["K_nn_level1"] < 1


def test_claims_and_reading(quick):
    _, m = quick
    rows = mi.claims(m)
    assert len(rows) >= 6
    for row in rows:
        assert set(row) == {"claim", "how", "result", "verdict"}
        assert row["verdict"] in VERDICTS
    by = {r["claim"]: r["verdict"] for r in rows}
    assert by["On a 1D chain the MI-optimal filter is decimation-like"] == "agrees"
    assert by["At K_c the MI-optimal 2D block filter is close to the majority rule"] == "agrees"
    text = mi.reading(m)
    assert "not" in text and len(text) > 300


def test_plots_decode(quick):
    folder, _ = quick
    paths = mi.plot(folder)
    assert len(paths) == 5
    for p in paths:
        img = mpimg.imread(p)
        assert img.ndim == 3 and img.shape[0] > 100 and np.isfinite(img).all()


def test_config_rejects_bad_sizes():
    with pytest.raises(ValueError, match="multiple of b"):
        mi.Config(mcrg_L=(18,), b=4)


def test_buffered_variant_small():
    from kadanoff.ising import K_CRITICAL
    from kadanoff.rg.mi_rule import ising_samples

    x = ising_samples((8, 8), K_CRITICAL, 40, seed=5)
    config = mi.Config(train_L=8, mcrg_L=(16,), buffered_samples=20, steps=40)
    out = mi._buffered(config, x[:20], x[20:])
    assert out["samples"] == 20 and -1 <= out["cosine_uniform"] <= 1
    assert abs(out["sign-majority"]) < math.log(2) and out["sign-majority_err"] >= 0


def test_summary_rows_are_the_metrics(quick):
    """network_rg summary: one exponent row per rule and step, couplings per level, same numbers."""
    _, m = quick
    s = mi.summary(m)
    rules = {"majority", "MI rule (c = 0)", "MI rule (free bias)"}
    assert {r["rule"] for r in s["exponents"]} == {r["rule"] for r in s["couplings"]} == rules
    for L in mi.QUICK.mcrg_L:
        r = m["mcrg"][f"L{L}_mi_symmetric"]
        (row,) = [x for x in s["exponents"] if x["rule"] == "MI rule (c = 0)" and x["L"] == L
                  and x["level"] == r["level"]]  # fmt: skip
        assert (row["y_t"], row["y_h_err"]) == (r["y_t"], r["y_h_err"])
        assert (row["y_t_exact"], row["y_h_exact"]) == (1.0, 15 / 8)
        (c,) = [x for x in s["couplings"] if x["rule"] == "MI rule (c = 0)" and x["L"] == L]
        assert c["K_nn"][1] == r["K_nn_level1"] and c["levels"][0] == 0
