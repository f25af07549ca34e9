"""The interface every Ising sampler implements.

A sampler object holds only its model and hyperparameters (immutable). The chains it
advances live in a :class:`ChainState`: the spins plus the random-number generator's
state (a counter-based key and sweep counter, xoshiro words, ...), so that a chain can be
continued where it stopped::

    state = sampler.start(spins, seed=1)        # spins (n_chains, *shape), ±1
    state, info = sampler.run(state, 100)       # == two calls of run(state, 50), bit for bit
    state.save("chains.npz"); state = ChainState.load("chains.npz")

The older call ``run(spins, n_sweeps, seed=...) -> (spins, info)`` is kept and is exactly
``run(start(spins, seed=seed), n_sweeps)`` with the state's spins returned: it starts a
fresh stream from ``seed`` on every call, so calling it twice with one int seed reuses the
same random numbers (pass a ``ChainState`` to continue a chain instead).

A new sampler implements :meth:`Sampler._start_rng` (the generator state made from a seed)
and :meth:`Sampler.advance` (``n`` sweeps of a state), and registers itself with
:func:`kadanoff.ising.samplers.registry.register_sampler`; see ``docs/extending.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import numpy as np

from ..._rng import SeedLike, make_rng
from ...spins import check_spins
from ..model import IsingModel

__all__ = ["Sampler", "SweepInfo", "ChainState", "check_count", "CHAIN_STATE_FORMAT"]

#: ``meta["format"]`` of a file written by :meth:`ChainState.save`
CHAIN_STATE_FORMAT = "kadanoff.ising.chain_state"


def check_count(value: int, name: str = "n_sweeps") -> int:
    """``value`` as an int if it is a non-negative integer (not a bool), else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return int(value)


@dataclass
class SweepInfo:
    """Work done by :meth:`Sampler.run`.

    ``attempted``/``accepted`` count single-spin updates (local samplers); ``flipped`` is
    the number of spins that changed sign; ``cluster_sizes`` holds the size of every
    cluster flipped (cluster samplers), else is empty. Which of these a sampler fills is
    declared in its registry entry (``Capabilities.reports``).
    """

    n_sweeps: int = 0
    attempted: int = 0
    accepted: int = 0
    flipped: int = 0
    cluster_sizes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def acceptance(self) -> float:
        return self.accepted / self.attempted if self.attempted else float("nan")

    def merge(self, other: SweepInfo) -> SweepInfo:
        return SweepInfo(
            self.n_sweeps + other.n_sweeps,
            self.attempted + other.attempted,
            self.accepted + other.accepted,
            self.flipped + other.flipped,
            np.concatenate([self.cluster_sizes, other.cluster_sizes]),
        )


@dataclass(frozen=True, eq=False)
class ChainState:
    """Chains of one sampler and the state of their random numbers (carried, never shared).

    Attributes
    ----------
    spins : ndarray, shape ``(n_chains, *model.shape)``, int8
        ±1 configurations.
    rng : ndarray
        The generator's state in the sampler's own layout (e.g. ``(2,)`` uint64 key and
        sweep counter of the checkerboard kernels, ``(n_chains, 4)`` uint64 xoshiro words
        of the cluster samplers).
    kind : str
        Which sampler layout ``rng`` has (checked by :meth:`Sampler.run`).
    sweeps : int
        Sweeps done since :meth:`Sampler.start`.

    Samplers never modify a state in place: :meth:`Sampler.run` returns a new one.
    """

    spins: np.ndarray
    rng: np.ndarray
    kind: str
    sweeps: int = 0

    @property
    def n_chains(self) -> int:
        return int(self.spins.shape[0])

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays (no objects), e.g. for ``np.savez``; inverse :meth:`from_arrays`."""
        return {
            "spins": self.spins,
            "rng": self.rng,
            "kind": np.array(self.kind),
            "sweeps": np.array(self.sweeps, dtype=np.int64),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> ChainState:
        """Rebuild a state from :meth:`to_arrays` (e.g. ``np.load(path, allow_pickle=False)``)."""
        missing = [k for k in ("spins", "rng", "kind", "sweeps") if k not in arrays]
        if missing:
            raise ValueError(f"not a chain state: the arrays {', '.join(missing)} are missing")
        return cls(
            spins=np.array(arrays["spins"], dtype=np.int8, order="C"),
            rng=np.array(arrays["rng"], order="C"),
            kind=str(arrays["kind"][()]),
            sweeps=int(arrays["sweeps"][()]),
        )

    def save(self, path: str | os.PathLike) -> Path:
        """Write the state to ``path`` (``.npz`` plus JSON meta, atomically, no pickle)."""
        from ...io import write_npz

        arrays = {"spins": self.spins, "rng": self.rng}
        meta = {"format": CHAIN_STATE_FORMAT, "kind": self.kind, "sweeps": self.sweeps}
        return write_npz(path, arrays, meta)

    @classmethod
    def load(cls, path: str | os.PathLike) -> ChainState:
        """Read a state written by :meth:`save` (never unpickles)."""
        from ...io import FileFormatError, read_npz

        arrays, meta = read_npz(path)
        if meta.get("format") != CHAIN_STATE_FORMAT or not {"spins", "rng"} <= set(arrays):
            raise FileFormatError(
                f"{path} is not a kadanoff chain state (format {meta.get('format')!r}); "
                "write one with ChainState.save"
            )
        extra = {"kind": np.array(meta["kind"]), "sweeps": np.array(meta["sweeps"])}
        return cls.from_arrays({**arrays, **extra})


class Sampler:
    """Base class: ``run(state, n_sweeps) -> (state, info)`` on a :class:`ChainState`.

    ``spins`` have shape ``(n_chains, *model.shape)``, dtype int8, values ±1. Chains are
    independent. Successive ``run(state, n)`` calls equal one long run bit for bit, and a
    state started from the same spins and seed gives the same numbers.

    Subclasses implement :meth:`_start_rng` and :meth:`advance` (older subclasses that
    only override ``run(spins, n_sweeps, *, seed)`` keep working with that form).
    """

    #: name used on the command line (``--algorithm``)
    name: str = ""

    def __init__(self, model: IsingModel) -> None:
        self.model = model

    @property
    def state_kind(self) -> str:
        """Tag of this sampler's :attr:`ChainState.rng` layout."""
        return type(self).__qualname__

    def check_state(self, spins: np.ndarray) -> np.ndarray:
        s = check_spins(spins)
        shape = self.model.shape
        if s.ndim != len(shape) + 1 or s.shape[1:] != shape:
            raise ValueError(
                f"{type(self).__name__} expects spins of shape "
                f"(n_chains, {', '.join(map(str, shape))}), "
                f"got {s.shape}"
            )
        return np.ascontiguousarray(s)

    def init_state(self, n_chains: int, *, seed: SeedLike = None, hot: bool = True) -> np.ndarray:
        """Random (``hot``) or all-up (cold) spins, shape ``(n_chains, *shape)``.

        (Spins only; :meth:`start` turns them and a seed into a :class:`ChainState`.)
        """
        if n_chains < 1:
            raise ValueError(f"n_chains must be >= 1, got {n_chains}")
        shape = (n_chains, *self.model.shape)
        if not hot:
            return np.ones(shape, dtype=np.int8)
        rng = make_rng(seed)
        return (2 * rng.integers(0, 2, size=shape, dtype=np.int8) - 1).astype(np.int8)

    # ------------------------------------------------------------------ chain states
    def start(self, spins: np.ndarray, *, seed: SeedLike) -> ChainState:
        """A :class:`ChainState` of ``spins`` (copied) with a random stream made from ``seed``."""
        s = self.check_state(spins).copy()
        return ChainState(spins=s, rng=self._start_rng(s.shape[0], seed), kind=self.state_kind)

    def _start_rng(self, n_chains: int, seed: SeedLike) -> np.ndarray:
        """The generator state for ``n_chains`` chains made from ``seed`` (subclass hook)."""
        raise NotImplementedError(
            f"{type(self).__name__} does not implement chain states (_start_rng and "
            "advance); call run(spins, n_sweeps, seed=...) instead"
        )

    def check_chain_state(
        self,
        state: ChainState,
        rng_shape: tuple[int, ...] | None = None,
        rng_dtype: type = np.uint64,
    ) -> np.ndarray:
        """Validated spins of ``state``; raises if ``state`` belongs to another sampler or
        its ``rng`` is not of shape ``rng_shape`` (``-1``: the number of chains) and dtype."""
        if not isinstance(state, ChainState):
            raise TypeError(f"expected a ChainState, got {type(state).__name__}")
        if state.kind != self.state_kind:
            raise ValueError(
                f"this chain state was made by a {state.kind} sampler, not {self.state_kind}; "
                "start one with this sampler's start(spins, seed=...)"
            )
        s = self.check_state(state.spins)
        if rng_shape is not None:
            want = tuple(s.shape[0] if d == -1 else d for d in rng_shape)
            if state.rng.shape != want or state.rng.dtype != np.dtype(rng_dtype):
                raise ValueError(
                    f"corrupt chain state: rng has shape {state.rng.shape} and dtype "
                    f"{state.rng.dtype}, expected {want} {np.dtype(rng_dtype)}"
                )
        return s

    def advance(self, state: ChainState, n_sweeps: int) -> tuple[ChainState, SweepInfo]:
        """Advance every chain of ``state`` by ``n_sweeps`` sweeps (subclass hook).

        Returns a new state (``sweeps`` increased by ``n_sweeps``); ``state`` is unchanged.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not implement chain states; "
            "call run(spins, n_sweeps, seed=...) instead"
        )

    def record(
        self,
        spins: ChainState | np.ndarray,
        n_samples: int,
        *,
        thin: int = 1,
        seed: SeedLike = None,
    ) -> tuple[np.ndarray, ChainState | np.ndarray, SweepInfo]:
        """``n_samples`` runs of ``thin`` sweeps, keeping the state after each.

        Parameters
        ----------
        spins : ChainState, or ndarray of shape ``(n_chains, *model.shape)``
            A state continues its stream (no ``seed``); an array starts from ``seed``.
        n_samples, thin : int

        Returns
        -------
        samples : ndarray, shape ``(n_samples, n_chains, *model.shape)``, int8
        final : ChainState or ndarray (the type given)
            The state after the last run.
        info : SweepInfo
            The work of all runs (:meth:`SweepInfo.merge`).
        """
        n_samples = check_count(n_samples, "n_samples")
        thin = check_count(thin, "thin")
        if thin < 1:
            raise ValueError(f"thin must be >= 1, got {thin}")
        state = spins if isinstance(spins, ChainState) else self.start(spins, seed=seed)
        if isinstance(spins, ChainState) and seed is not None:
            raise TypeError("a ChainState carries its own random stream: omit seed")
        samples = np.empty((n_samples, state.n_chains, *self.model.shape), dtype=np.int8)
        info = SweepInfo()
        for k in range(n_samples):
            state, step = self.advance(state, thin)
            samples[k] = state.spins
            info = info.merge(step)
        return samples, (state if isinstance(spins, ChainState) else state.spins), info

    @overload
    def run(
        self, spins: ChainState, n_sweeps: int = 1, *, seed: None = None, **options: Any
    ) -> tuple[ChainState, SweepInfo]: ...

    @overload
    def run(
        self, spins: np.ndarray, n_sweeps: int = 1, *, seed: SeedLike = None, **options: Any
    ) -> tuple[np.ndarray, SweepInfo]: ...

    def run(self, spins, n_sweeps=1, *, seed=None, **options):
        """Advance every chain by ``n_sweeps`` sweeps.

        Parameters
        ----------
        spins : ChainState, or ndarray of shape ``(n_chains, *model.shape)``, ±1
            A state continues its own stream (``seed`` must then be omitted); an array
            starts a fresh stream from ``seed`` (``start(spins, seed=seed)``). Not modified.
        n_sweeps : int
        seed : int, SeedSequence or Generator, optional
            Only with an array.
        **options
            Passed to :meth:`advance` (e.g. ``work_split`` of the checkerboard kernels).

        Returns
        -------
        state : ChainState (for a state) or ndarray int8 (for an array)
        info : SweepInfo
        """
        n_sweeps = check_count(n_sweeps)
        if isinstance(spins, ChainState):
            if seed is not None:
                raise TypeError(
                    "a ChainState carries its own random stream: call run(state, n_sweeps) "
                    "without seed (seed= starts a fresh stream from a spins array)"
                )
            return self.advance(spins, n_sweeps, **options)
        state, info = self.advance(self.start(spins, seed=seed), n_sweeps, **options)
        return state.spins, info
