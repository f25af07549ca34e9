"""fig3's pieces without a training run: config validation, the dataset device, the streams."""

from __future__ import annotations

import pytest

from kadanoff.experiments import fig3
from kadanoff.experiments.fig3 import compute


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"block_sizes": (2, 3)}, "must be 2, 4, ..., 2\\^n"),
        ({"K": 0.0}, "must be positive"),
        ({"n_eval": 2}, "at least 3"),
        ({"hidden": ()}, "at least one positive layer size"),
        ({"epochs": 0}, "epochs = 0 must be >= 1"),
    ],
)
def test_fig3_config_refuses_bad_values_in_one_line(changes, match):
    with pytest.raises(ValueError, match=match) as e:
        fig3.Config(**changes)
    assert "\n" not in str(e.value)


def test_the_dataset_runs_on_the_training_device_where_its_sampler_does(monkeypatch):
    sw = fig3.Config(L=16, algorithm="sw")
    assert compute._dataset_device(sw, "cpu") == "cpu"
    assert compute._dataset_device(sw, "cuda") == "cpu"  # Swendsen-Wang has no CUDA version
    monkeypatch.setattr("kadanoff.ising.samplers.cuda_available", lambda: True)
    metropolis = fig3.Config(L=16, algorithm="metropolis")
    assert compute._dataset_device(metropolis, "cuda") == "cuda"
    assert compute._dataset_device(metropolis, "cpu") == "cpu"
    # a dataset made elsewhere than the CPU is another artefact
    assert compute._dataset_key(sw, 1, "cpu") != compute._dataset_key(sw, 1, "cuda")


def test_stage_keys_follow_the_seed_actually_used():
    c = fig3.Config(L=16)
    data = compute._dataset_key(c, 1, "cpu")
    assert data != compute._dataset_key(c, 2, "cpu")
    assert compute._train_key(c, 0.0, 1, data) != compute._train_key(c, 0.0, 2, data)
    assert compute.STREAMS == ("dataset", "train_l1", "train_no_l1", "analysis")
