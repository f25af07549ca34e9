"""The "RG measured" section: exponents, coupling flow and matching, through the runner."""

import json

import pytest
from test_report import decode_images

from kadanoff.experiments import EXPERIMENTS, rg_measured
from kadanoff.experiments.runner import reproduce

TINY = rg_measured.Config(
    L=16, levels=1, samples=4000, flow_L=16, flow_levels=2, flow_samples=1500, flow_keep=300,
    match_L=16, match_levels=1, match_samples=3000, match_tolerance=0.02,
)  # fmt: skip


def _strict(text):
    def bad(c):
        raise ValueError(f"non-strict JSON constant {c}")

    return json.loads(text, parse_constant=bad)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("rg")
    m = reproduce("quick", out, only=["rg_measured"], progress=False, log=lambda *a: None,
                  configs={"rg_measured": TINY})  # fmt: skip
    return out, m


def test_section_with_tables_figures_and_claims(report):
    out, m = report
    assert "rg_measured" in EXPERIMENTS
    html = (out / "report.html").read_text()
    assert rg_measured.TITLE in html and "y_t by RG step" in html and "MCRG matching" in html
    parser, images = decode_images(html)
    assert len(images) == 2 and all(im.ndim == 3 and im.shape[0] > 100 for im in images)
    claims = [c for c in m["claims"] if "exponent" in c["claim"] or "K_c" in c["claim"]
              or "critical" in c["claim"]]  # fmt: skip
    assert len(claims) == 4 and all(isinstance(c["holds"], bool) for c in claims)
    for name in ("y_t.json", "y_h.json", "flow.json", "matching.json", "metrics.json"):
        _strict((out / "rg_measured" / name).read_text())


def test_metrics_are_consistent(report):
    _, m = report
    r = m["rg_measured"]
    yt = r["tables"]["y_t"]
    assert yt["operators"][0] == "nn" and yt["coarse_sides"] == [8]
    assert abs(r["exponents"]["y_h"]["values"][0] - 15 / 8) < 0.03
    # both costs are recorded (their ratio is a benchmark, benchmarks/mcrg.py, not a test:
    # at this tiny size it depends on the machine's load)
    assert r["timing"]["measurement_seconds"] > 0 and r["timing"]["sampling_seconds"] > 0
    flow = r["flow"]
    assert len(flow["K_nn"]) == len(TINY.flow_K) and len(flow["K_nn"][0]) == 3
    # level 0 recovers the sampled couplings
    for K0, row, err in zip(flow["K_start"], flow["K_nn"], flow["K_nn_error"], strict=True):
        assert abs(row[0] - K0) < 4.5 * err[0]
    assert abs(r["matching"]["K_c_best"] - r["K_critical"]) < 0.02


def test_presets_and_bad_config():
    assert {"quick", "paper"} <= set(rg_measured.PRESETS)
    assert rg_measured.PRESETS["paper"].L == 128 and rg_measured.PRESETS["paper"].samples >= 10**6
    with pytest.raises(ValueError, match="divisible"):
        rg_measured.Config(L=24, levels=4)
