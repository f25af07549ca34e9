"""The Markov chains behind :func:`kadanoff.ising.dataset.generate_dataset`.

:class:`ChainRun` holds everything a run has done so far (the chains' state, the stage it
is in and how far it got, the pilot series, the saved samples) and advances it stage by
stage: warm-up, pilot, more thermalization, production. Every stage can be checkpointed
and resumed, so an interrupted run loses at most ``checkpoint_every`` seconds of work,
the warm-up included. Every sampler call gets its own seed, a pure function of the root
seed, the stage and the call's index (:func:`stage_seed`), so a resumed run is the same,
bit for bit, as one run in one go.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..io import FileFormatError, read_npz, write_npz
from ..stats import integrated_time
from .model import IsingModel
from .samplers import Sampler

#: minimum warm-up, in sweeps, before the pilot run
MIN_THERMALIZATION = 100
#: total thermalization is at least this many autocorrelation times
THERMALIZATION_TAUS = 20
#: initial pilot length in sweeps (doubled until it exceeds ``RELIABLE_TAUS * tau``)
PILOT_SWEEPS = 200
#: longest pilot, in sweeps
MAX_PILOT_SWEEPS = 51_200
#: a tau estimate from a series longer than this many tau is trusted (emcee's rule)
RELIABLE_TAUS = 50
#: thinning interval is ``ceil(THIN_TAUS * tau)``
THIN_TAUS = 2
#: warm-up sweeps per sampler call
CHUNK = 100

# stages of a run; each sampler call's seed is (root, stage, index)
INIT, WARMUP, PILOT, EXTRA, PRODUCTION = range(5)
#: the stages a checkpoint can be in, in order
PHASES = ("warmup", "pilot", "extra", "production")

PARTIAL_FORMAT = "kadanoff.ising.dataset.partial"
#: version 2 checkpoints every stage (version 1 only production; such files are ignored)
PARTIAL_VERSION = 2


def stage_seed(root: np.random.SeedSequence, stage: int, i: int) -> np.random.SeedSequence:
    """The seed of call ``i`` of ``stage``: a child of ``root`` (never ``seed + 1``)."""
    return np.random.SeedSequence(
        root.entropy, spawn_key=(*root.spawn_key, stage, i), pool_size=root.pool_size
    )


def observables(model: IsingModel, spins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Energy ``H`` and ``|m|`` per chain, shapes ``(n_chains,)``."""
    e = model.energy(spins)
    m = np.abs(model.magnetization_sum(spins)) / model.n_sites
    return np.asarray(e, np.float64), np.asarray(m, np.float64)


def mean_tau(series: np.ndarray) -> float:
    """Integrated time per chain (columns of ``(n_steps, n_chains)``), averaged."""
    return float(np.mean([integrated_time(series[:, c]).tau for c in range(series.shape[1])]))


def _progress(total: int | None, desc: str, enabled: bool, unit: str = "sweep") -> Any:
    from tqdm.auto import tqdm

    return tqdm(
        total=total, desc=desc, unit=unit, disable=not enabled, leave=False, file=sys.stderr
    )


class Counters:
    """Work done in production: acceptance (local) and cluster sizes (cluster rules)."""

    def __init__(self, d: dict[str, int] | None = None) -> None:
        d = d or {}
        self.attempted = int(d.get("attempted", 0))
        self.accepted = int(d.get("accepted", 0))
        self.n_clusters = int(d.get("n_clusters", 0))
        self.cluster_sites = int(d.get("cluster_sites", 0))

    def add(self, info: Any) -> None:
        sizes = np.asarray(getattr(info, "cluster_sizes", np.zeros(0)))
        self.attempted += int(info.attempted)
        self.accepted += int(info.accepted)
        self.n_clusters += int(sizes.size)
        self.cluster_sites += int(sizes.sum()) if sizes.size else 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


class ChainRun:
    """A dataset run: ``n_chains`` chains of ``sampler`` advanced stage by stage.

    Parameters
    ----------
    sampler, model : Sampler, IsingModel
    root : SeedSequence
        Root seed of every sampler call.
    config : dict
        JSON record of the run's configuration; a checkpoint is resumed only when its
        ``config`` equals this one.
    n_samples, n_chains : int
    show : bool
        Progress bars.
    checkpoint : path, optional
        ``.npz`` file rewritten atomically every ``checkpoint_every`` seconds, when a stage
        begins, and on any exception (Ctrl-C included).
    """

    def __init__(
        self,
        sampler: Sampler,
        model: IsingModel,
        root: np.random.SeedSequence,
        config: dict[str, Any],
        *,
        n_samples: int,
        n_chains: int,
        show: bool,
        checkpoint: str | os.PathLike | None,
        checkpoint_every: float,
    ) -> None:
        self.sampler, self.model, self.root, self.config = sampler, model, root, config
        self.n_samples, self.n_chains, self.show = n_samples, n_chains, show
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        self.every = float(checkpoint_every)
        self.t0 = time.perf_counter()
        self.last_saved = self.t0
        self.dirty = False
        self.resumed = False
        # progress, all of it in a checkpoint
        self.phase = "warmup"
        self.warm_done = self.pilot_done = self.extra_done = self.rounds_done = 0
        self.pilot_target = 0
        self.pilot_e: list[np.ndarray] = []
        self.pilot_m: list[np.ndarray] = []
        self.tau_e: float | None = None
        self.tau_m: float | None = None
        self.pilot_reliable: bool | None = None
        self.thinning: int | None = None
        self.counters = Counters()
        self.elapsed_before = 0.0
        n_rounds = math.ceil(n_samples / n_chains)
        self.samples = np.empty((n_rounds * n_chains, *model.shape), dtype=np.int8)
        self.saved_e = np.empty((n_rounds, n_chains))
        self.saved_m = np.empty((n_rounds, n_chains))
        if self.checkpoint is not None and self._restore():
            self.resumed = True
        else:
            self.spins = sampler.init_state(n_chains, seed=stage_seed(root, INIT, 0))
        self._snapshot()

    # ------------------------------------------------------------------ bookkeeping
    @property
    def n_rounds(self) -> int:
        return int(self.saved_e.shape[0])

    @property
    def thermalization(self) -> int:
        """Sweeps per chain before production: warm-up + pilot + extra."""
        return self.warm_done + self.pilot_done + self.extra_done

    @property
    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.t0

    def _before(self, phase: str) -> bool:
        """Whether the run has not yet finished stage ``phase`` (so it must run it)."""
        return PHASES.index(self.phase) <= PHASES.index(phase)

    def _enter(self, phase: str) -> None:
        if self.phase != phase:
            self.phase = phase
            self._commit()
            self.save()  # a cheap checkpoint at each stage boundary

    def _commit(self) -> None:
        """After a finished step: snapshot the state, and checkpoint it if it is time."""
        self._snapshot()
        self.dirty = True
        if self.checkpoint is not None and time.perf_counter() - self.last_saved >= self.every:
            self.save()

    def _snapshot(self) -> None:
        """Record the current state as the one a checkpoint will hold.

        A Ctrl-C can land between any two statements of a step (after the spins moved on,
        before the counter did); the checkpoint written on the way out must not mix the
        two. So steps update the live attributes freely and then call this, which replaces
        the snapshot with a single assignment; :meth:`save` writes only the snapshot.
        """
        self._snap: dict[str, Any] = {
            "phase": self.phase,
            "warmup_sweeps": self.warm_done,
            "pilot_sweeps": self.pilot_done,
            "pilot_target": self.pilot_target,
            "extra_sweeps": self.extra_done,
            "rounds_done": self.rounds_done,
            "thinning": self.thinning,
            "thermalization": self.thermalization,
            "tau_energy": self.tau_e,
            "tau_abs_magnetization": self.tau_m,
            "pilot_reliable": self.pilot_reliable,
            "counters": self.counters.as_dict(),
            "state": self.spins,  # never modified in place: samplers return new arrays
        }

    def save(self) -> None:
        """Write the last committed state to the checkpoint (when there is one) atomically."""
        if self.checkpoint is None:
            return
        snap = dict(self._snap)
        spins = snap.pop("state")
        r, n_pilot = int(snap["rounds_done"]), int(snap["pilot_sweeps"])
        pilot_shape = (n_pilot, self.n_chains)
        meta = {
            "format": PARTIAL_FORMAT,
            "format_version": PARTIAL_VERSION,
            "config": self.config,
            **snap,
            "elapsed_seconds": self.elapsed,
        }
        arrays: dict[str, np.ndarray] = {
            "samples": self.samples[: r * self.n_chains],
            "energy": self.saved_e[:r],
            "abs_magnetization": self.saved_m[:r],
            "pilot_energy": np.array(self.pilot_e[:n_pilot]).reshape(pilot_shape),
            "pilot_abs_magnetization": np.array(self.pilot_m[:n_pilot]).reshape(pilot_shape),
            "state": spins,
        }
        write_npz(self.checkpoint, arrays, meta)
        self.last_saved, self.dirty = time.perf_counter(), False

    def _restore(self) -> bool:
        """Load the checkpoint if it exists and matches the configuration."""
        assert self.checkpoint is not None
        path = self.checkpoint
        if not path.exists():
            return False
        try:
            arrays, meta = read_npz(path)
        except (FileFormatError, OSError) as e:
            msg = f"ignoring unreadable checkpoint {path}: {e}"
            warnings.warn(msg, RuntimeWarning, stacklevel=4)
            return False
        if (
            meta.get("format") != PARTIAL_FORMAT
            or meta.get("format_version") != PARTIAL_VERSION
            or meta.get("config") != self.config
            or meta.get("phase") not in PHASES
        ):
            warnings.warn(
                f"ignoring checkpoint {path}: it was written by a different configuration or "
                "version of kadanoff; starting afresh (it will be overwritten)",
                RuntimeWarning,
                stacklevel=4,
            )
            return False
        self.phase = meta["phase"]
        self.warm_done, self.pilot_done = int(meta["warmup_sweeps"]), int(meta["pilot_sweeps"])
        self.pilot_target, self.extra_done = int(meta["pilot_target"]), int(meta["extra_sweeps"])
        self.rounds_done = r = int(meta["rounds_done"])
        self.thinning = meta["thinning"]
        self.tau_e, self.tau_m = meta["tau_energy"], meta["tau_abs_magnetization"]
        self.pilot_reliable = meta["pilot_reliable"]
        self.counters = Counters(meta["counters"])
        self.elapsed_before = float(meta["elapsed_seconds"])
        self.samples[: r * self.n_chains] = arrays["samples"]
        self.saved_e[:r] = arrays["energy"]
        self.saved_m[:r] = arrays["abs_magnetization"]
        self.pilot_e = list(arrays["pilot_energy"])
        self.pilot_m = list(arrays["pilot_abs_magnetization"])
        # a writable copy (arrays read from an .npz are read-only views of its bytes)
        self.spins = np.array(arrays["state"], dtype=np.int8, order="C")
        return True

    @contextlib.contextmanager
    def guarded(self) -> Iterator[ChainRun]:
        """Context manager: on any exception (Ctrl-C too), save unsaved progress, re-raise."""
        try:
            yield self
        except BaseException:
            if self.dirty:
                self.save()
            raise

    # ----------------------------------------------------------------------- stages
    def _sweeps(self, stage: int, attr: str, total: int, desc: str) -> None:
        """Run ``total`` sweeps in chunks of :data:`CHUNK`, counting in ``self.<attr>``."""
        with _progress(max(total, 0), desc, self.show) as bar:
            bar.update(min(getattr(self, attr), max(total, 0)))
            while (done := getattr(self, attr)) < total:
                k = min(CHUNK, total - done)
                seed = stage_seed(self.root, stage, done // CHUNK)
                self.spins, _ = self.sampler.run(self.spins, k, seed=seed)
                setattr(self, attr, done + k)
                bar.update(k)
                self._commit()

    def warm_up(self, n_sweeps: int) -> None:
        """Stage 1: ``n_sweeps`` sweeps from the initial state."""
        if self._before("warmup"):
            self._sweeps(WARMUP, "warm_done", n_sweeps, "thermalizing")

    def pilot(self, pilot_sweeps: int) -> None:
        """Stage 2: one sweep at a time, recording ``H`` and ``|m|``, until the series is
        longer than ``RELIABLE_TAUS`` autocorrelation times (or ``MAX_PILOT_SWEEPS``)."""
        if not self._before("pilot"):
            return
        self._enter("pilot")
        if not self.pilot_target:
            self.pilot_target = pilot_sweeps
        with _progress(self.pilot_target, "pilot run", self.show) as bar:
            bar.update(self.pilot_done)
            while True:
                while self.pilot_done < self.pilot_target:
                    seed = stage_seed(self.root, PILOT, self.pilot_done)
                    self.spins, _ = self.sampler.run(self.spins, 1, seed=seed)
                    e, m = observables(self.model, self.spins)
                    self.pilot_e.append(e)
                    self.pilot_m.append(m)
                    self.pilot_done += 1
                    bar.update(1)
                    self._commit()
                self.tau_e = mean_tau(np.array(self.pilot_e))
                self.tau_m = mean_tau(np.array(self.pilot_m))
                self.pilot_reliable = self.pilot_done > RELIABLE_TAUS * max(self.tau_e, self.tau_m)
                if self.pilot_reliable or self.pilot_target >= MAX_PILOT_SWEEPS:
                    break
                self.pilot_target = min(2 * self.pilot_target, MAX_PILOT_SWEEPS)
                bar.total = self.pilot_target
                bar.refresh()
        if not self.pilot_reliable:
            warnings.warn(
                f"the pilot run of {self.pilot_done} sweeps is shorter than {RELIABLE_TAUS} "
                f"autocorrelation times (tau_E={self.tau_e:.3g}, tau_|m|={self.tau_m:.3g}); "
                "the estimates and the thinning may be too small: pass a larger thin",
                RuntimeWarning,
                stacklevel=3,
            )

    @property
    def tau_max(self) -> float:
        return max(self.tau_e or 1.0, self.tau_m or 1.0)

    def extra(self, min_thermalization: int) -> None:
        """Stage 3: thermalize until ``max(min_thermalization, 20 tau)`` sweeps in all."""
        if not self._before("extra"):
            return
        self._enter("extra")
        need = max(min_thermalization, math.ceil(THERMALIZATION_TAUS * self.tau_max))
        need -= self.warm_done + self.pilot_done
        self._sweeps(EXTRA, "extra_done", need, "thermalizing")

    def produce(self, thinning: int) -> None:
        """Stage 4: ``n_rounds`` rounds of ``thinning`` sweeps, saving every chain."""
        if self.thinning is None:
            self.thinning = int(thinning)
        self._enter("production")
        n, nc = self.n_samples, self.n_chains
        with _progress(n, "sampling", self.show, unit="sample") as bar:
            bar.update(min(self.rounds_done * nc, n))
            for r in range(self.rounds_done, self.n_rounds):
                seed = stage_seed(self.root, PRODUCTION, r)
                new, info = self.sampler.run(self.spins, self.thinning, seed=seed)
                self.samples[r * nc : (r + 1) * nc] = new
                self.saved_e[r], self.saved_m[r] = observables(self.model, new)
                self.counters.add(info)
                self.spins, self.rounds_done = new, r + 1
                bar.update(min(nc, n - r * nc))
                self._commit()
