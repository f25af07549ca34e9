"""The training configuration is readable without torch (the CLI lists presets from it)."""

from __future__ import annotations

import os
import subprocess
import sys


def test_importing_train_config_leaves_torch_unloaded():
    code = (
        "import sys\n"
        "from kadanoff.rbm.train.config import PRESETS, TrainConfig\n"
        "TrainConfig(**PRESETS['spin'].to_dict())\n"
        "print('torch' in sys.modules, 'numba' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ),
        check=True,
    )  # fmt: skip
    assert out.stdout.split() == ["False", "False"], out.stdout + out.stderr


def test_package_reexports_the_config_names():
    import kadanoff.rbm.train as train
    from kadanoff.rbm.train import config

    assert train.PRESETS is config.PRESETS and train.TrainConfig is config.TrainConfig
    assert set(train.__all__) <= set(dir(train))
    for name in train.__all__:
        assert getattr(train, name) is not None
