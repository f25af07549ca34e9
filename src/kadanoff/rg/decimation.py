"""The 1D example: decimation flow and its three exact network realizations (theory.md 5).

Chain ``H = -K sum_i v_i v_{i+1}`` on a ring. Summing every other spin gives a ring with
``tanh K' = tanh^2 K`` (``K' = 1/2 ln cosh 2K``) times ``A = 2 sqrt(cosh 2K)`` per removed
spin (paper section IV, Fig. 2). Realizations (theory.md 5(a)-(c)):

- :class:`DecimationNetwork`: the bipartite deep network (weights ``K^(n)`` between layers)
  with exact top-down sampling and exact layer distributions;
- :func:`soft_decimation_kernel`: ``T = sum_i [lambda h_i v_{2i} - ln 2cosh lambda]``;
- :class:`BondRBM`: one hidden unit per bond with weight ``w``; exact when
  ``K = 1/2 ln cosh 2w``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._rng import SeedLike, make_rng
from ..ising.exact import chain_correlation_length, chain_log_partition
from ..ising.model import IsingModel
from ..ising.samplers.exact_chain import ExactChainSampler
from ..lattice import Chain
from ..spins import MAX_ENUMERATION_SITES, all_states
from ._common import logsumexp
from .machines import GeneralBoltzmannMachine
from .operators import SoftKernel

__all__ = [
    "log_cosh",
    "decimated_coupling",
    "decimation_constant",
    "decimation_flow",
    "correlation_length",
    "ring_log_partition",
    "ring_hamiltonian",
    "marginalize",
    "decimated_ring_hamiltonian",
    "DecimationNetwork",
    "soft_decimation_kernel",
    "soft_decimation_flip_probability",
    "bond_rbm_coupling",
    "bond_rbm_weight",
    "BondRBM",
]


def log_cosh(x: Any) -> Any:
    """``ln cosh x`` without overflow, accurate to rounding for small and large ``|x|``
    (helper for (MS section IV) / theory.md 5): ``log1p(2 sinh^2(x/2))`` below 1, else
    ``|x| + log1p(exp(-2|x|)) - ln 2``."""
    a = np.abs(np.asarray(x, dtype=np.float64))
    small = np.minimum(a, 1.0)
    return np.where(
        a < 1.0,
        np.log1p(2.0 * np.sinh(0.5 * small) ** 2),
        a + np.log1p(np.exp(-2.0 * a)) - np.log(2.0),
    )


def decimated_coupling(K: Any) -> Any:
    """``K' = 1/2 ln cosh 2K``, i.e. ``tanh K' = tanh^2 K`` (paper section IV; theory.md 5)."""
    return 0.5 * log_cosh(2.0 * np.asarray(K, dtype=np.float64))


def decimation_constant(K: Any) -> Any:
    """``A = 2 sqrt(cosh 2K)``: ``Z_N(K) = A^{N/2} Z_{N/2}(K')`` (theory.md 5)."""
    return 2.0 * np.sqrt(np.cosh(2.0 * np.asarray(K, dtype=np.float64)))


def decimation_flow(K: float, n_levels: int) -> np.ndarray:
    """``K^(0..n_levels)`` from ``K^(n+1) = 1/2 ln cosh 2K^(n)`` (Fig. 2A; theory.md 5).

    Equivalently ``tanh K^(n) = (tanh K)^(2^n)``. Shape ``(n_levels + 1,)``.
    """
    if n_levels < 0:
        raise ValueError(f"n_levels must be >= 0, got {n_levels}")
    out = np.empty(n_levels + 1)
    out[0] = K
    for i in range(n_levels):
        out[i + 1] = decimated_coupling(out[i])
    return out


def correlation_length(K: Any) -> Any:
    """Infinite-chain correlation length ``xi = -1 / ln tanh K`` (halves per step; theory.md 5).

    :func:`kadanoff.ising.exact.chain_correlation_length` (``K >= 0``).
    """
    return chain_correlation_length(K)


def ring_log_partition(n: int, K: float) -> float:
    """``ln Z = ln[(2 cosh K)^n + (2 sinh K)^n]`` of a ring of ``n`` spins (theory.md 8).

    :func:`kadanoff.ising.exact.chain_log_partition` (transfer matrices).
    """
    return chain_log_partition(n, float(K))


def ring_hamiltonian(n: int, K: float) -> np.ndarray:
    """``H(v) = -K sum_i v_i v_{i+1}`` on a ring for every state, ``(2^n,)`` (theory.md 5).

    :meth:`IsingModel.energy` on :func:`~kadanoff.spins.all_states` (a 2-ring counts its
    bond twice).
    """
    return IsingModel(Chain(n), float(K)).energy(all_states(n))


def marginalize(log_weights: np.ndarray, keep: Any) -> np.ndarray:
    """Exact marginalization ``ln sum_{removed} exp(log_weights)`` by enumeration (MS 6).

    ``log_weights`` is a ``(2^n,)`` table in ``all_states`` order; ``keep`` lists the kept
    sites (in the order they take in the result). Returns a ``(2^len(keep),)`` table.
    """
    t = np.asarray(log_weights, dtype=np.float64)
    n = t.size.bit_length() - 1
    if t.size != 1 << n:
        raise ValueError(f"table length must be 2^n, got {t.size}")
    keep = [int(k) for k in keep]
    if len(set(keep)) != len(keep) or any(not 0 <= k < n for k in keep):
        raise ValueError(f"keep must list distinct sites in [0, {n}), got {keep}")
    removed = tuple(i for i in range(n) if i not in keep)
    cube = t.reshape((2,) * n)
    out = logsumexp(cube, axis=removed) if removed else cube
    # remaining axes are in increasing site order; reorder to `keep`
    order = sorted(keep)
    out = np.transpose(out, [order.index(k) for k in keep])
    return np.ascontiguousarray(out).reshape(-1)


def _log_transfer_power(K: float, m: int) -> np.ndarray:
    """``ln (T^m)`` for ``T_{ss'} = exp(K s s')``, index 0 = spin -1, by matrix powers."""
    Tn = np.exp(float(K) * np.array([[1.0, -1.0], [-1.0, 1.0]]) - log_cosh(K) - np.log(2.0))
    return np.log(np.linalg.matrix_power(Tn, m)) + m * (np.log(2.0) + log_cosh(K))


def decimated_ring_hamiltonian(n: int, K: float, level: int) -> np.ndarray:
    """Exact marginal Hamiltonian of the ``n / 2^level`` spins kept after ``level`` steps.

    ``H^(level)(h) = -sum_i ln (T^{2^level})_{h_i h_{i+1}}`` (transfer matrices, constants
    kept: ``Tr_h exp(-H^(level)) = Z_n(K)``); theory.md 5. Shape ``(2^(n/2^level),)``.
    """
    m = 2**level
    if n % m:
        raise ValueError(f"ring length {n} is not divisible by 2^level = {m}")
    size = n // m
    if size > MAX_ENUMERATION_SITES:
        raise ValueError(f"{size} kept spins are too many to enumerate (at most 24)")
    lt = _log_transfer_power(K, m)
    idx = (all_states(size) > 0).astype(np.int64)
    nxt = np.roll(idx, -1, axis=1)
    return -np.sum(lt[idx, nxt], axis=1)


class DecimationNetwork:
    """The bipartite deep network of theory.md 5(a) (paper Fig. 2B).

    Layer 0 is a ring of ``n`` spins with coupling ``K``; layer ``l + 1`` holds the even
    sites of layer ``l``, and the odd sites of layer ``l`` couple to their two even
    neighbours with weight ``K^(l)``: an RBM (visible = odd, hidden = even) whose hidden
    marginal is the ring with ``K^(l+1)`` (MS 13 with the constant ``ln A`` per odd site).

    Parameters
    ----------
    n : int
        Ring length, divisible by ``2^depth``.
    K : float
        Coupling of layer 0.
    depth : int
        Number of decimation steps (layers ``0 .. depth``).
    """

    def __init__(self, n: int, K: float, depth: int) -> None:
        if depth < 0 or n < 2 or n % (2**depth):
            raise ValueError(
                f"need n >= 2 divisible by 2^depth; got n = {n}, depth = {depth} "
                f"(try n = {max(2, 2**depth)} * k)"
            )
        self.n = int(n)
        self.K = float(K)
        self.depth = int(depth)
        self.couplings = decimation_flow(self.K, self.depth)
        self.sizes = [self.n // 2**level for level in range(self.depth + 1)]

    def _check_level(self, level: int) -> None:
        if not 0 <= level <= self.depth:
            raise ValueError(f"level must be in [0, {self.depth}], got {level}")

    def rbm_parameters(self, level: int) -> dict[str, np.ndarray]:
        """RBM between layer ``level``'s odd (visible) and even (hidden) sites (theory.md 5(a)).

        ``weights (n_l / 2, n_l / 2)`` with ``W[i, i] = W[i, i+1] = K^(l)`` (summed when
        they coincide), zero biases; keys match ``SpinRBM.from_parameters``.
        """
        self._check_level(level)
        if level == self.depth:
            raise ValueError(
                f"level {level} is the top layer; RBMs join levels 0..{self.depth - 1}"
            )
        m = self.sizes[level + 1]
        W = np.zeros((m, m))
        for i in range(m):
            W[i, i] += self.couplings[level]
            W[i, (i + 1) % m] += self.couplings[level]
        return {"weights": W, "visible_bias": np.zeros(m), "hidden_bias": np.zeros(m)}

    def layer_distribution(self, level: int) -> np.ndarray:
        """Exact ``P(layer)`` over ``all_states(n / 2^level)``, transfer matrices (theory.md 5)."""
        self._check_level(level)
        H = decimated_ring_hamiltonian(self.n, self.K, level)
        return np.exp(-H - logsumexp(-H))

    @staticmethod
    def _sample_ring(size: int, K: float, n_samples: int, rng: np.random.Generator):
        """Exact ring samples (:class:`ExactChainSampler`); one spin (``n = 2^depth``) is a
        fair coin, shape ``(n_samples, size)`` int8."""
        if size == 1:
            return np.where(rng.random((n_samples, 1)) < 0.5, 1, -1).astype(np.int8)
        return ExactChainSampler(IsingModel(Chain(size), float(K))).sample(n_samples, seed=rng)

    def sample_top_down(self, n_samples: int, *, seed: SeedLike) -> list[np.ndarray]:
        """Exact top-down samples of every layer, ``[(n_samples, n_l) int8 for l = 0..depth]``.

        The top ring (coupling ``K^(depth)``) is sampled exactly; each layer below draws
        its odd sites from ``p(v_odd | even) = sigmoid(2 K^(l) (h_i + h_{i+1}))`` (MS 13
        conditional; theory.md 5(a)). Layer ``l + 1`` equals layer ``l``'s even sites.
        """
        if n_samples < 0:
            raise ValueError(f"n_samples must be >= 0, got {n_samples}")
        rng = make_rng(seed)
        layers = [np.empty(0)] * (self.depth + 1)
        layers[self.depth] = self._sample_ring(
            self.sizes[self.depth], self.couplings[self.depth], n_samples, rng
        )
        for level in range(self.depth - 1, -1, -1):
            h = layers[level + 1].astype(np.float64)
            field = self.couplings[level] * (h + np.roll(h, -1, axis=1))
            odd = np.where(rng.random(h.shape) < 0.5 * (1.0 + np.tanh(field)), 1, -1)
            v = np.empty((n_samples, self.sizes[level]), dtype=np.int8)
            v[:, 0::2] = layers[level + 1]
            v[:, 1::2] = odd
            layers[level] = v
        return layers


def soft_decimation_kernel(n: int, lam: float) -> SoftKernel:
    """``T = sum_i [lambda h_i v_{2i} - ln 2cosh lambda]`` on a ring of ``n`` (theory.md 5(b))."""
    return SoftKernel(Chain(n), 2, lam, statistic="first")


def soft_decimation_flip_probability(lam: float) -> float:
    """``P(h_i != v_{2i}) = 1 / (1 + e^{2 lambda})`` for the soft kernel (theory.md 5(b))."""
    return float(0.5 * (1.0 - np.tanh(lam)))


def bond_rbm_coupling(w: Any) -> Any:
    """``K = 1/2 ln cosh 2w``: the chain a bond RBM reproduces (theory.md 5(c); MS 12)."""
    return 0.5 * log_cosh(2.0 * np.asarray(w, dtype=np.float64))


def bond_rbm_weight(K: Any) -> Any:
    """``w = 1/2 arccosh(exp 2K)`` for ``K >= 0``, inverse of bond_rbm_coupling (theory.md 5(c))."""
    K = np.asarray(K, dtype=np.float64)
    if np.any(K < 0):
        raise ValueError("a bond RBM realizes only K >= 0 (K = 1/2 ln cosh 2w >= 0)")
    x = 2.0 * K  # arccosh(e^x) = ln(e^x + sqrt(e^2x - 1)) = x + ln(1 + sqrt(1 - e^-2x))
    return 0.5 * (x + np.log1p(np.sqrt(-np.expm1(-2.0 * x))))


class BondRBM:
    """Bond RBM of theory.md 5(c): one hidden spin per ring bond, weight ``w`` to both ends.

    ``H^RBM(v) = H(v) + energy_constant`` with ``H = -K sum v_i v_{i+1}``,
    ``K = 1/2 ln cosh 2w`` and ``energy_constant = -n ln(2 sqrt(cosh 2w))`` (MS 12):
    KL = 0, so the trace condition holds once the constant is fixed.

    Attributes ``weights (n, n)``, ``visible_bias``, ``hidden_bias``, ``units = "spin"``
    make it usable wherever an RBM is expected (e.g. :class:`MachineOperator`).
    """

    units = "spin"

    def __init__(self, n: int, *, K: float | None = None, w: float | None = None) -> None:
        if (K is None) == (w is None):
            raise ValueError("give exactly one of K (chain coupling) or w (RBM weight)")
        self.n = Chain(n).n
        self.w = float(bond_rbm_weight(K)) if w is None else float(w)
        self.K = float(bond_rbm_coupling(self.w))
        bonds = Chain(n).bonds
        W = np.zeros((n, len(bonds)))
        for j, (a, b) in enumerate(bonds):
            W[a, j] += self.w
            W[b, j] += self.w
        self.weights = W
        self.visible_bias = np.zeros(n)
        self.hidden_bias = np.zeros(len(bonds))

    @property
    def energy_constant(self) -> float:
        """``H^RBM(v) - H(v) = -n ln(2 sqrt(cosh 2w))`` (MS 12; theory.md 5(c))."""
        return -len(self.hidden_bias) * float(np.log(2.0) + 0.5 * log_cosh(2.0 * self.w))

    def chain_hamiltonian(self) -> np.ndarray:
        """``H(v) = -K sum v_i v_{i+1}`` for every state, ``(2^n,)`` (theory.md 5(c))."""
        return ring_hamiltonian(self.n, self.K)

    def machine(self) -> GeneralBoltzmannMachine:
        """The machine with energy constant chosen so ``H^lambda(v) = H(v)`` exactly (MS 12, 22)."""
        return GeneralBoltzmannMachine(
            self.weights, self.visible_bias, self.hidden_bias, offset=-self.energy_constant
        )

    def to_rbm(self, **kwargs: Any) -> Any:
        """A :class:`kadanoff.rbm.SpinRBM` with these parameters (MS 10)."""
        from ..rbm import SpinRBM

        return SpinRBM.from_parameters(self.weights, self.visible_bias, self.hidden_bias, **kwargs)
