"""Settings of the 1D experiment (Fig. 2) and its presets."""

from __future__ import annotations

from dataclasses import dataclass

NAME = "fig2"
TITLE = "Fig. 2: 1D decimation is a deep network"


@dataclass(frozen=True)
class Config:
    """Settings of the 1D experiment."""

    couplings: tuple[float, ...] = (0.5, 1.0, 2.0, 3.0)  # starting K of the flows
    flow_levels: int = 8
    ring: int = 16  # ring of the exact network checks (2^ring states are enumerated)
    network_K: float = 1.0
    network_depth: int = 3
    chi2_ring: int = 8  # ring of the top-down sampling test
    chi2_samples: int = 200_000
    soft_lambdas: tuple[float, ...] = (0.5, 2.0, 8.0)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.ring % 2**self.network_depth or self.ring // 2**self.network_depth < 2:
            raise ValueError(
                f"ring = {self.ring} must be divisible by 2^network_depth = "
                f"{2**self.network_depth}, leaving at least 2 spins in the top layer"
            )
        if self.ring > 22:
            raise ValueError(f"ring = {self.ring} is enumerated exactly: use at most 22 spins")
        if self.chi2_ring % 4:
            raise ValueError(f"chi2_ring = {self.chi2_ring} must be divisible by 4")


PRESETS = {"quick": Config(), "paper": Config(chi2_samples=1_000_000)}
