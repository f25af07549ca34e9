"""Units (the one spin <-> binary map), log_2cosh and the one definition of p(up | field)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from kadanoff.rbm import BinaryRBM, SpinRBM, rbm_class
from kadanoff.spins import Units, all_states, log_2cosh


def test_units_accept_strings_and_convert_exactly():
    assert Units("spin") is Units.SPIN and Units.parse("binary") is Units.BINARY
    assert Units.SPIN == "spin" and f"{Units.BINARY}" == "binary" and str(Units.SPIN) == "spin"
    assert json.dumps({"u": Units.SPIN}) == '{"u": "spin"}'
    with pytest.raises(ValueError, match="use 'spin'"):
        Units.parse("ising")
    s = all_states(4).astype(np.float64)
    x = Units.BINARY.from_spins(s)
    np.testing.assert_array_equal(x, (s > 0).astype(np.float64))
    np.testing.assert_array_equal(Units.BINARY.to_spins(x), s)
    np.testing.assert_array_equal(Units.SPIN.from_spins(s), s)
    np.testing.assert_array_equal(Units.BINARY.flip(x), 1 - x)
    np.testing.assert_array_equal(Units.SPIN.flip(s), -s)
    t = torch.from_numpy(s)
    assert torch.equal(Units.BINARY.from_spins(t), torch.from_numpy(x))
    assert rbm_class(Units.SPIN) is SpinRBM and rbm_class("binary") is BinaryRBM


def test_log_2cosh_is_exact_and_never_overflows():
    x = np.linspace(-30, 30, 601)
    np.testing.assert_allclose(log_2cosh(x), np.log(2 * np.cosh(x)), rtol=1e-14, atol=0)
    big = np.array([-1e4, 1e4, 800.0])
    np.testing.assert_array_equal(log_2cosh(big), np.abs(big))  # exp(-2|x|) underflows to 0
    t = torch.from_numpy(x)
    np.testing.assert_allclose(log_2cosh(t).numpy(), log_2cosh(x), rtol=1e-15, atol=0)
    assert torch.equal(SpinRBM.unit_log_partition(t), log_2cosh(t))


@pytest.mark.parametrize("cls", [SpinRBM, BinaryRBM])
def test_unit_probability_is_the_boltzmann_ratio(cls):
    f = torch.linspace(-5, 5, 101, dtype=torch.float64)
    up, down = cls.up_value, cls.down_value
    ratio = torch.exp(f * up) / (torch.exp(f * up) + torch.exp(f * down))
    torch.testing.assert_close(cls.unit_probability(f), ratio, rtol=1e-13, atol=1e-15)
