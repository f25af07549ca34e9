"""The cross-part summary of network_rg (issue 11, Report): parts opt in through summary();
the section holds the exponents table, the KL table, the coupling-flow figure and the figures
the parts name; metrics.json carries the summary under network_rg.summary; its numbers are the
parts' numbers; parts without summary() are named as skipped."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from test_network_rg import _fake_part, _run
from test_report import decode_images

from kadanoff.experiments import network_rg
from kadanoff.experiments.network_rg import summary as S


def _with_summary(key: str):
    """A fake part whose metrics hold exponents, couplings and KL, exposed by summary()."""
    mod = _fake_part(key)
    compute = mod.compute

    def compute_more(config, folder: Path, *, seed, device="cpu", progress=False):
        m = compute(config, folder, seed=seed, device=device, progress=progress)
        rng = np.random.default_rng(seed)
        m.update(
            y_t=1.0 + 0.01 * rng.normal(), y_h=1.875 + 0.002 * rng.normal(),
            maj_y_t=1.0 + 0.01 * rng.normal(), maj_y_h=1.875 + 0.002 * rng.normal(),
            K_nn=[0.4407, 0.36 + 0.01 * rng.normal()], kl=0.1 + 0.01 * rng.normal(),
        )  # fmt: skip
        return m

    def summary(m):
        common = {"L": 16, "level": 1, "small_lattice": False, "same_configurations": True,
                  "y_t_exact": 1.0,
                  "y_h_exact": 15 / 8, "y_t_err": 0.01, "y_h_err": 0.002}  # fmt: skip
        cpl = {"L": 16, "levels": [0, 1], "K_nn": m["K_nn"], "K_nn_err": [0.01, 0.01],
               "K_nnn": [0.0, 0.05], "K_nnn_err": [0.01, 0.01], "K_field": [0.0, None],
               "K_field_err": [0.01, None]}  # fmt: skip
        return {
            "exponents": [
                {"rule": "learned", "y_t": m["y_t"], "y_h": m["y_h"], **common},
                {"rule": "majority", "y_t": m["maj_y_t"], "y_h": m["maj_y_h"], **common},
            ],
            "couplings": [{"rule": "learned", **cpl}, {"rule": "majority", **cpl}],
            "kl": [{"network": "net", "level": 1, "value": m["kl"], "value_err": 0.001,
                    "kind": "estimate", "ais_effective_chains": 3.0, "ais_chains": 64}],
            "tables": [{"caption": "hyperparameters", "header": ["a"], "rows": [[1.5]]}],
            "figures": [f"{key}_histogram.png"],
        }  # fmt: skip

    mod.compute, mod.summary = compute_more, summary
    return mod


@pytest.fixture
def parts(monkeypatch):
    mods = {"alpha": _with_summary("alpha"), "beta": _fake_part("beta")}
    for m in mods.values():
        monkeypatch.setitem(sys.modules, m.__name__, m)
    monkeypatch.setattr(network_rg, "PARTS", tuple(m.__name__ for m in mods.values()))
    return mods


def test_section_tables_figures_and_metrics(parts, tmp_path):
    _run(tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())["network_rg"]
    a, s = saved["alpha"], saved["summary"]
    assert s["contributors"] == ["alpha"] and s["skipped"] == ["beta"]
    (row,) = s["exponent_table"]  # the learned rule beside majority at the same L and level
    assert row["y_t"] == a["y_t"] and row["majority_y_h"] == a["maj_y_h"]
    assert row["same_configurations"] is True
    assert math.isclose(row["y_t_minus_majority"], a["y_t"] - a["maj_y_t"], abs_tol=1e-12)
    assert math.isclose(row["y_t_minus_majority_err"], math.hypot(0.01, 0.01), abs_tol=1e-12)
    d = math.hypot(a["y_t"] - 1.0, a["y_h"] - 15 / 8)
    assert math.isclose(row["distance_exact"], d, abs_tol=1e-12)
    assert s["kl"][0]["value"] == a["kl"] and s["kl"][0]["part"] == "alpha"
    assert s["couplings"][0]["K_nn"] == a["K_nn"] and s["couplings"][0]["K_field"][1] is None
    assert json.loads((tmp_path / "network_rg" / "summary.json").read_text()) == s
    # every part's verdicts travel in metrics.json too, each with its part
    expected = [{"part": k, **row} for k in ("alpha", "beta") for row in parts[k].claims(saved[k])]
    assert s["claims"] == expected and {c["part"] for c in s["claims"]} == {"alpha", "beta"}
    html = (tmp_path / "report.html").read_text()
    assert "Summary across rules" in html and "skipped: beta" in html
    assert "<caption>MCRG exponents at K_c" in html and "<caption>Distance from an exact RG" in html
    assert "hyperparameters (alpha)" in html and "3.0 of 64" in html
    assert "net level 1 (3.0 of 64)" in html  # few AIS effective chains: flagged unreliable
    assert 'alt="Coupling flow: learned rules and majority rule"' in html
    assert html.count('alt="Fake part alpha: alpha histogram"') == 2  # summary and own section
    _, images = decode_images(html)
    assert len(images) == 4 and all(np.isfinite(im).all() and im.ndim == 3 for im in images)


def test_exponent_table_pairs_within_a_part_and_judges_the_goal():
    base = {"L": 8, "level": 1, "y_t_exact": 1.0, "y_h_exact": 15 / 8}
    rows = [
        {"part": "p", "rule": "majority", "y_t": 1.0, "y_t_err": 0.01, "y_h": 1.87,
         "y_h_err": 0.001, **base},
        {"part": "p", "rule": "near", "y_t": 1.02, "y_t_err": 0.01, "y_h": 1.88,
         "y_h_err": 0.001, **base},
        {"part": "p", "rule": "far", "y_t": 0.9, "y_t_err": 0.01, "y_h": 1.88,
         "y_h_err": 0.001, **base},
        {"part": "p", "rule": "noisy", "y_t": 1.0, "y_t_err": 0.1, "y_h": 1.88,
         "y_h_err": 0.001, **base},
        {"part": "q", "rule": "alone", "y_t": 1.0, "y_t_err": 0.01, "y_h": 1.88,
         "y_h_err": 0.001, **base},
    ]  # fmt: skip
    t = {r["rule"]: r for r in S.exponent_table(rows)}
    assert t["near"]["within_goal"] is True and t["far"]["within_goal"] is False
    assert t["noisy"]["within_goal"] is None  # an error above the goal: inconclusive
    assert t["alone"]["majority_y_t"] is None and t["alone"]["within_goal"] is None
    # distance and its propagated error, by hand
    dt, dh = 0.02, 1.88 - 15 / 8
    d = math.hypot(dt, dh)
    assert math.isclose(t["near"]["distance_exact"], d, abs_tol=1e-12)
    err = math.hypot(dt * 0.01, dh * 0.001) / d
    assert math.isclose(t["near"]["distance_exact_err"], err, abs_tol=1e-12)
    assert math.isclose(t["near"]["majority_distance_exact"], 0.005, abs_tol=1e-12)
    assert t["near"]["same_configurations"] is False  # not stated: not claimed


def test_bad_summaries_are_refused(monkeypatch, tmp_path):
    bad = _fake_part("gamma")
    bad.summary = lambda m: {"exponent": []}
    with pytest.raises(ValueError, match="keys among exponents"):
        S.collect({"gamma": {}}, {"gamma": bad})
    bad.summary = lambda m: {"kl": [{"kind": "guess"}]}
    with pytest.raises(ValueError, match="kind must be one of"):
        S.collect({"gamma": {}}, {"gamma": bad})
    named = _fake_part("summary")
    monkeypatch.setitem(sys.modules, named.__name__, named)
    monkeypatch.setattr(network_rg, "PARTS", (named.__name__,))
    with pytest.raises(ValueError, match="summary's key"):
        _run(tmp_path)


def test_level_couplings_refuses_quietly():
    rng = np.random.default_rng(0)
    x = rng.choice(np.array([-1, 1], np.int8), size=(40, 4, 4))
    out = S.level_couplings([x, x[:1]])
    assert len(out["K_nn"]) == 2 and out["K_nn"][1] is None  # one configuration: no fit
    assert abs(out["K_nn"][0]) < 5 * out["K_nn_err"][0]  # infinite temperature: K = 0


@pytest.mark.slow
def test_real_quick_preset_section(tmp_path):
    """The real parts' quick preset end to end (about a minute)."""
    m = _run(tmp_path)["network_rg"]
    s = m["summary"]
    assert s["contributors"] == [p for p in network_rg.PARTS if p in m]
    html = (tmp_path / "report.html").read_text()
    for caption in ("MCRG exponents at K_c", "Distance from an exact RG", "RBM flow on"):
        assert caption in html
    assert 'alt="Coupling flow' in html and "rbm flow sample" in html
    _, images = decode_images(html)
    assert images and all(np.isfinite(im).all() for im in images)
