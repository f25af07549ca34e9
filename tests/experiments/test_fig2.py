"""Fig. 2 (1D): every number in metrics.json checked against exact values."""

import numpy as np
import pytest

from kadanoff.experiments import fig2
from kadanoff.experiments.base import config_hash, is_done, mark_done


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fig2")
    config = fig2.Config(chi2_samples=50_000)
    return folder, config, fig2.run(config, folder)


def test_flow_matches_closed_form(result):
    _, config, m = result
    for K0, flow in zip(m["flow"]["K0"], m["flow"]["K"], strict=True):
        n = np.arange(len(flow))
        exact = np.arctanh(np.tanh(K0) ** (2.0**n))
        np.testing.assert_allclose(flow, exact, rtol=1e-12, atol=1e-300)


def test_exact_checks_hold(result):
    _, _, m = result
    assert m["layer_coupling_max_error"] < 1e-10
    assert m["layer_residual_max"] < 1e-10
    assert m["free_energy_identity_max_rel_error"] < 1e-12
    assert m["correlation_length_ratio_max_error"] < 1e-9
    tr = m["trace_condition_violation"]
    assert all(v < 1e-10 for k, v in tr.items() if "too large" not in k)
    assert tr["bond RBM with w 20% too large"] > 0.1
    # fixed seed; a correct sampler gives p < 1e-6 once in 10^6 runs per layer
    assert min(x["p_value"] for x in m["top_down_chi2"]) > 1e-6
    assert all(c.holds for c in fig2.claims(m))


def test_plot_and_cache(result):
    folder, config, m = result
    figures = fig2.plot(folder)
    assert all(p.exists() and p.stat().st_size > 1000 for p, _ in figures)
    assert not is_done(folder, "fig2", config)
    mark_done(folder, "fig2", config, m)
    assert is_done(folder, "fig2", config)
    other = fig2.Config(chi2_samples=50_001)
    assert config_hash("fig2", other) != config_hash("fig2", config)
    assert not is_done(folder, "fig2", other)


def test_presets_are_valid_and_bad_configs_are_refused():
    from kadanoff.experiments import fig3

    for mod in (fig2, fig3):
        assert {"quick", "paper"} <= set(mod.PRESETS)
    with pytest.raises(ValueError, match="divisible"):
        fig2.Config(ring=20, network_depth=3)
    with pytest.raises(ValueError, match="at least 2 spins"):
        fig2.Config(ring=16, network_depth=4)
