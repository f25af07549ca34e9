"""Fig. 2 computed (1D): decimation as a deep network, with exact checks (theory.md 5).

(A) the flow ``tanh K^(n) = (tanh K)^(2^n)`` for several starting couplings; (B) the bipartite deep
network whose weights between layers ``n`` and ``n+1`` are ``K^(n)``. Beside them, exact checks:
layer marginals of the network vs chains with coupling ``K^(n)`` (exact marginalization +
projection), the free-energy identity ``Z_N(K) = A^{N/2} Z_{N/2}(K')``, the correlation length
halving at each step, the trace condition of decimation, soft kernel and bond RBM, and a chi-square
test of the network's top-down samples against the exact chain distributions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...io import write_npz
from .config import NAME, Config

__all__ = ["run"]


def run(
    config: Config,
    folder: Path,
    *,
    seed: int | None = None,
    device: str = "cpu",
    progress: bool = True,
) -> dict:
    """Compute the flow and every exact check; save arrays; return metrics.

    ``seed`` (default ``config.seed``) seeds the top-down samples of the chi-square test.
    """
    from scipy import stats

    from ...lattice import Chain
    from ...rg import (
        BondRBM,
        DecimationNetwork,
        MachineOperator,
        correlation_length,
        decimated_ring_hamiltonian,
        decimation_constant,
        decimation_flow,
        project,
        ring_log_partition,
        soft_decimation_kernel,
        trace_condition_violation,
    )
    from ...spins import state_index

    flows = np.array([decimation_flow(K, config.flow_levels) for K in config.couplings])
    resolved = flows > 1e-6  # below this tanh K^(n) ~ K^(n) rounds the ratio
    with np.errstate(divide="ignore", invalid="ignore"):
        xi = correlation_length(flows)
        xi_ratio = np.where(resolved[:, 1:], xi[:, 1:] / xi[:, :-1], 0.5)

    net = DecimationNetwork(config.ring, config.network_K, config.network_depth)
    layers = []
    for level, size in enumerate(net.sizes):
        H = decimated_ring_hamiltonian(config.ring, config.network_K, level)
        proj = project(H, Chain(size), ("nn",))
        layers.append(
            {
                "level": level,
                "spins": size,
                "K_recursion": float(net.couplings[level]),
                "K_projected": proj.couplings["nn"],
                "residual": proj.residual_rms,
            }
        )
    free_energy_errors = []
    for K in config.couplings:
        n, k = config.ring, K
        while n >= 4:
            lhs = ring_log_partition(n, k)
            rhs = (n // 2) * np.log(decimation_constant(k)) + ring_log_partition(
                n // 2, float(np.asarray(decimation_flow(k, 1))[1])
            )
            free_energy_errors.append(abs(lhs - rhs) / abs(lhs))
            k = float(np.asarray(decimation_flow(k, 1))[1])
            n //= 2

    small = DecimationNetwork(config.chi2_ring, config.network_K, 2)
    samples = small.sample_top_down(config.chi2_samples, seed=config.seed if seed is None else seed)
    chi2 = []
    for level, s in enumerate(samples):
        p = small.layer_distribution(level)
        counts = np.bincount(state_index(s), minlength=len(p))
        expected = p * len(s)
        keep = expected >= 5
        obs = np.append(counts[keep], counts[~keep].sum())
        exp = np.append(expected[keep], expected[~keep].sum())
        if exp[-1] == 0:
            obs, exp = obs[:-1], exp[:-1]
        res = stats.chisquare(obs, exp)
        chi2.append(
            {"level": level, "spins": s.shape[1], "dof": len(obs) - 1, "p_value": float(res.pvalue)}
        )

    trace = {
        f"soft decimation kernel, lambda = {lam:g}": trace_condition_violation(
            soft_decimation_kernel(config.chi2_ring, lam)
        )
        for lam in config.soft_lambdas
    }
    bond = BondRBM(config.chi2_ring, K=config.network_K)
    trace["bond RBM (KL = 0)"] = trace_condition_violation(
        MachineOperator(bond.machine(), bond.chain_hamiltonian())
    )
    wrong = BondRBM(config.chi2_ring, w=bond.w * 1.2)
    trace["bond RBM with w 20% too large"] = trace_condition_violation(
        MachineOperator(wrong.machine(), bond.chain_hamiltonian(), match_normalization=True)
    )

    write_npz(
        folder / "results.npz",
        {
            "flows": flows,
            "couplings": np.array(config.couplings),
            "network_couplings": net.couplings,
            "network_sizes": np.array(net.sizes),
        },
        {"experiment": NAME},
    )
    return {
        "flow": {"K0": list(config.couplings), "K": flows.tolist()},
        "correlation_length_ratio_max_error": float(np.nanmax(np.abs(xi_ratio - 0.5))),
        "network_layers": layers,
        "layer_coupling_max_error": max(abs(x["K_projected"] - x["K_recursion"]) for x in layers),
        "layer_residual_max": max(x["residual"] for x in layers),
        "free_energy_identity_max_rel_error": float(max(free_energy_errors)),
        "top_down_chi2": chi2,
        "trace_condition_violation": trace,
    }
