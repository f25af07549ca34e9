"""The DBN-as-coarse-graining driver: QUICK compute, metrics against exact values and bounds."""

import json
import math

import matplotlib.image
import numpy as np
import pytest

from kadanoff.experiments.network_rg import dbn


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("dbn")
    try:
        m = dbn.compute(dbn.QUICK, folder, seed=0)
    finally:
        torch.set_num_threads(n)
    return folder, m


def test_metrics_are_json_and_sane(run):
    folder, m = run
    text = json.dumps(m, allow_nan=False)  # every number finite or None
    assert json.loads(text)["L"] == dbn.QUICK.L
    for name in ("placement.json", "kl.json", "mcrg.json", "correlations.json"):
        json.loads((folder / name).read_text())
    for lv, p in m["placement"].items():
        assert 0 <= p["within_one"] <= 1 and 0 <= p["switched_off"] <= p["n_units"]
        assert 0 < p["within_one_random"] < 1
    kl = m["kl"]
    assert kl["level1"]["kind"] == "estimate" and kl["level2"]["kind"] == "upper_bound"
    for lv in ("level1", "level2"):
        # a KL is >= 0 (up to its error) and a trained model beats log 2 per spin
        assert kl[lv]["value"] > -4 * kl[lv]["value_err"] and kl[lv]["value"] < math.log(2)
        assert kl[lv]["value_err"] > 0
    assert 0 < kl["independent_spins"] < math.log(2)


def test_exact_check_agrees_with_enumeration(run):
    _, m = run
    e = m["exact_check"]
    assert e["kl_exact"] > 0 and abs(e["z"]) < 3  # acceptance 2 (4 x 4 torus)
    # acceptance 2 (1D chain): the bond RBM is exact, a trained RBM is not
    assert abs(e["chain_bond_rbm_kl"]) < 1e-10 and 0 < e["chain_trained_kl"] < math.log(2)
    # the level-2 number is an upper bound on the exact KL of the two-level network
    assert e["level2_z_bound_minus_exact"] > -4


def test_mcrg_and_correlations(run):
    folder, m = run
    mc = m["mcrg"]
    assert mc["levels"] == [1, 2] and mc["coarse_sides"] == [4, 2]
    # the majority rule's odd exponent is close to 15/8 even at this size (test of the pipeline)
    assert abs(mc["majority_y_h"][0] - 15 / 8) < 0.1
    # a singular level (the DBN's 2 x 2 level here) loses only itself: level 1 is measured
    assert mc["dbn_y_h"][0] is not None and mc["dbn_y_h_err"][0] > 0
    assert len(mc["dbn_sign_y_t"]) == 2  # the other coarse spins are measured too
    corr = json.loads((folder / "correlations.json").read_text())
    assert corr["fine"][0] == pytest.approx(1.0)
    for key in ("level1_sample", "level1_sign", "level1_majority", "level2_sample"):
        assert corr[key][0] == pytest.approx(1.0) and all(-1 <= c <= 1 for c in corr[key])
    assert corr["level1_r_sites"] == [0, 2, 4]


def test_claims_reading_and_plots(run):
    folder, m = run
    rows = dbn.claims(m)
    assert len(rows) >= 4
    for r in rows:
        assert set(r) == {"claim", "how", "result", "verdict"}
        assert r["verdict"] in ("agrees", "differs", "inconclusive")
    assert "not" in dbn.reading(m)
    paths = dbn.plot(folder)
    assert len(paths) == 4
    for p in paths:
        img = matplotlib.image.imread(p)
        assert img.ndim == 3 and img.shape[0] > 100 and np.isfinite(img).all()


def test_configs_and_adapter():
    assert dbn.PAPER.L == 40 and dbn.PAPER.hidden == (400, 100, 25)

    class Fit:
        dbn = "the network"

    assert dbn._as_dbn(Fit()) == "the network" and dbn._as_dbn("net") == "net"
    with pytest.raises(ValueError, match="squares"):
        dbn.Config(hidden=(15, 4))


def test_network_is_saved_and_reloads(run):
    from kadanoff.dbn import load_model

    folder, m = run
    net = load_model(folder / "dbn.safetensors")
    assert [layer.n_hidden for layer in net.layers] == m["hidden"]
    ind = m["kl"]["independent_spins"]  # exact ln 2 - S/N at K = 0.408 on the 8 x 8 torus
    assert 0.2 < ind < 0.4
    assert m["kl"]["level1"]["ais_effective_chains"] > 1


def test_a_singular_level_loses_only_itself(run, monkeypatch):
    import kadanoff.rg.mcrg as mcrg
    from kadanoff.dbn import load_model
    from kadanoff.rg.placement import place_units

    folder, _ = run
    layers = list(load_model(folder / "dbn.safetensors").layers)
    fields = [layers[0].numpy()["weights"]]
    fields.append(fields[0] @ layers[1].numpy()["weights"])
    placements = [place_units(r, (8, 8), (s, s)) for r, s in zip(fields, (4, 2), strict=True)]
    real = mcrg.exponents

    def fail_at_two(res, **kw):
        if res.meta["levels"] == 2:
            raise ValueError("the correlation matrix G at level 2 is singular")
        return real(res, **kw)

    monkeypatch.setattr(mcrg, "exponents", fail_at_two)
    out = dbn._mcrg(layers, placements, dbn.QUICK, 0, False)
    for name in ("dbn", "majority"):
        assert out[f"{name}_y_h"][0] is not None and out[f"{name}_y_h"][1] is None
        assert "singular" in out[f"{name}_singular_level_2"]


def test_summary_rows_are_the_metrics(run):
    """network_rg summary: exponents and couplings of DBN (both modes) and majority rule by
    level, KL rows with their kind; the same numbers as the metrics."""
    _, m = run
    s = dbn.summary(m)
    mc = m["mcrg"]
    rules = {"majority", "DBN (sample)", "DBN (sign)"}
    assert {r["rule"] for r in s["exponents"]} == {r["rule"] for r in s["couplings"]} == rules
    (row,) = [r for r in s["exponents"] if r["rule"] == "majority" and r["level"] == 1]
    assert (row["y_t"], row["y_h"], row["L"]) == (mc["majority_y_t"][0], mc["majority_y_h"][0], 8)
    (c,) = [r for r in s["couplings"] if r["rule"] == "majority"]
    assert c["levels"] == [0, 1, 2] and c["K_nn"] == mc["majority_couplings"]["K_nn"]
    # level 0 is the fine lattice at K_c: the fit finds K_nn = K_c, no nnn coupling
    from kadanoff.ising import K_CRITICAL

    assert abs(c["K_nn"][0] - K_CRITICAL) < 5 * c["K_nn_err"][0]
    assert abs(c["K_nnn"][0]) < 5 * c["K_nnn_err"][0]
    kinds = {(r["network"].split(",")[0], r["level"]): r["kind"] for r in s["kl"]}
    assert kinds[("DBN 8x8", 1)] == "estimate" and kinds[("DBN 8x8", 2)] == "upper_bound"
    (k1,) = [r for r in s["kl"] if r["network"].startswith("DBN 8x8") and r["level"] == 1]
    assert k1["value"] == m["kl"]["level1"]["value"] and k1["ais_chains"] == dbn.QUICK.ais_chains
