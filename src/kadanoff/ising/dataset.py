"""Equilibrium Ising datasets: generate, save, load.

:func:`generate_dataset` runs ``n_chains`` independent Markov chains of one sampler and
saves configurations far enough apart to be effectively independent:

1. **warm-up**: ``MIN_THERMALIZATION`` sweeps from a random (hot) start (none for a
   sampler whose registered capabilities say its draws are independent, such as the
   exact chain sampler), or ``thermalization`` sweeps when given;
2. **pilot**: the chains go on for ``PILOT_SWEEPS`` sweeps recording the energy ``H`` and
   ``|m|`` after every sweep; the integrated autocorrelation times ``tau_E`` and
   ``tau_|m|`` (Sokal window, :func:`kadanoff.stats.integrated_time`) are estimated per
   chain and averaged over chains. The pilot doubles (up to ``MAX_PILOT_SWEEPS``) until it
   is longer than ``50 max(tau)`` so the estimate can be trusted;
3. **more thermalization** (automatic mode only) until the chains have done at least
   ``max(MIN_THERMALIZATION, 20 max(tau))`` sweeps in all;
4. **production**: the thinning interval is ``ceil(2 max(tau_E, tau_|m|))`` sweeps unless
   ``thin`` is given (1 for a sampler of independent draws); each round
   advances every chain by that many sweeps and saves every chain. The times are measured
   again on the saved series (they should be about 1) and give the effective sample size
   ``n_samples / max(tau_saved)``.

Every call to the sampler gets its own seed, a pure function of the root seed, the stage
and the call's index, so a run is reproducible bit for bit for a fixed seed and number of
chains and can be resumed from a checkpoint (``checkpoint=PATH``: the stage reached and
how far into it, the chains' state, the pilot series, collected samples and counters,
rewritten atomically when a stage begins, every ``checkpoint_every`` seconds and on
interruption, in every stage: an interrupted warm-up is not lost). Default numbers of
chains are fixed (not the machine's core count) so that the same seed gives the same
dataset on any machine.

Saved samples are ordered round by round: sample ``r * n_chains + c`` is chain ``c``
after production round ``r``.
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._rng import SeedLike, seed_sequence
from ..io import FileFormatError, environment_info, read_npz, to_json, write_npz
from ..lattice import make_lattice
from . import _chains
from ._chains import (
    MIN_THERMALIZATION,
    PILOT_SWEEPS,
    THIN_TAUS,
    ChainRun,
)
from .model import IsingModel
from .samplers import Capabilities, Sampler, capabilities_of, select_spec

__all__ = [
    "Dataset",
    "generate_dataset",
    "save_dataset",
    "load_dataset",
    "checkpoint_path",
    "checkpoint_seed",
    "default_chains",
    "FORMAT",
    "FORMAT_VERSION",
]

#: ``meta["format"]`` of a dataset file
FORMAT = "kadanoff.ising.dataset"
#: newest dataset file version this module reads and the one it writes
FORMAT_VERSION = 1

#: default numbers of chains (fixed, so results do not depend on the machine); samplers
#: of independent draws (``Capabilities.independent``) get their own default
DEFAULT_CHAINS = {"cpu": 16, "cuda": 512, "independent": 256}


def default_chains(capabilities: Capabilities | None, device: str) -> int:
    """The default number of chains for a sampler with ``capabilities`` on ``device``."""
    if capabilities is not None and capabilities.independent:
        return DEFAULT_CHAINS["independent"]
    return DEFAULT_CHAINS["cuda" if device.startswith("cuda") else "cpu"]


_REQUIRED_META = (
    "format",
    "format_version",
    "model",
    "lattice",
    "size",
    "K",
    "field",
    "n_samples",
)

# the stages of a run (each sampler call's seed is (root, stage, index)) and helpers,
# under the names tests use
_INIT, _WARMUP, _PILOT, _EXTRA, _PRODUCTION = (
    _chains.INIT,
    _chains.WARMUP,
    _chains.PILOT,
    _chains.EXTRA,
    _chains.PRODUCTION,
)
_stage_seed, _mean_tau = _chains.stage_seed, _chains.mean_tau


@dataclass(frozen=True, eq=False)
class Dataset:
    """Ising configurations and how they were made.

    Attributes
    ----------
    spins : ndarray, shape ``(n_samples, *lattice.shape)``, int8
        ±1 configurations.
    meta : dict
        JSON-compatible record: ``model`` (``"ising"``), ``lattice`` (``"1d"``/``"2d"``),
        ``size``, ``periodic``, ``K``, ``field``, ``algorithm``, ``device``, ``seed``,
        ``n_samples``, ``n_chains``, ``thermalization`` and ``thinning`` (sweeps),
        ``tau_energy`` and ``tau_abs_magnetization`` (pilot, in sweeps),
        ``saved_tau_energy``/``saved_tau_abs_magnetization`` (in saved samples),
        ``effective_sample_size``, ``acceptance`` (local rules), ``mean_cluster_size``
        (cluster rules), ``elapsed_seconds`` and ``environment``.
    """

    spins: np.ndarray
    meta: dict[str, Any]

    @property
    def model(self) -> IsingModel:
        """The :class:`IsingModel` the samples were drawn from."""
        return _model_from_meta(self.meta)

    @property
    def n_samples(self) -> int:
        return int(self.spins.shape[0])

    def __len__(self) -> int:
        return self.n_samples

    def __repr__(self) -> str:
        m = self.meta
        return (
            f"Dataset({m.get('lattice')} size={m.get('size')}, K={m.get('K')}, "
            f"field={m.get('field')}, spins {self.spins.shape} {self.spins.dtype}, "
            f"algorithm={m.get('algorithm')!r})"
        )


def _model_from_meta(meta: dict[str, Any]) -> IsingModel:
    lattice = make_lattice(meta["lattice"], int(meta["size"]), periodic=meta.get("periodic", True))
    return IsingModel(lattice, float(meta["K"]), float(meta.get("field", 0.0)))


def _model_meta(model: IsingModel) -> dict[str, Any]:
    lat = model.lattice
    return {
        "model": "ising",
        "lattice": f"{lat.dim}d",
        "size": int(lat.shape[0]),
        "periodic": bool(lat.periodic),
        "K": float(model.K),
        "field": float(model.field),
    }


def _jsonable(obj: Any) -> Any:
    """``obj`` as it reads back from JSON (tuples -> lists, numpy scalars -> Python)."""
    return json.loads(to_json(obj))


def checkpoint_path(path: str | os.PathLike) -> Path:
    """Where a run writing ``path`` (``X.npz``) keeps its checkpoint: ``X.partial.npz``."""
    p = Path(path)
    stem = p.name[: -len(".npz")] if p.name.endswith(".npz") else p.name
    return p.with_name(stem + ".partial.npz")


def _check_count(name: str, value: Any, minimum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def generate_dataset(
    model: IsingModel,
    n_samples: int,
    *,
    algorithm: str | Sampler = "wolff",
    seed: SeedLike,
    device: str = "cpu",
    n_chains: int | None = None,
    thermalization: int | None = None,
    thin: int | None = None,
    pilot_sweeps: int | None = None,
    progress: bool = True,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: float = 60.0,
) -> Dataset:
    """Draw ``n_samples`` effectively independent equilibrium configurations of ``model``.

    See the module docstring for the procedure (warm-up, pilot run measuring ``tau_E`` and
    ``tau_|m|``, thinning by ``ceil(2 max tau)``, production over independent chains).

    Parameters
    ----------
    model : IsingModel
    n_samples : int
        Number of configurations to return (>= 1).
    algorithm : str or Sampler
        A name from :data:`kadanoff.ising.samplers.ALGORITHMS` or a ready sampler.
    seed : int, SeedSequence or Generator
        Root seed; the dataset is a pure function of it (and of the other arguments).
    device : str
        ``"cpu"``, ``"cuda"`` or ``"auto"`` (see :func:`~kadanoff.ising.samplers.make_sampler`).
    n_chains : int, optional
        Independent chains (default 16 on CPU, 512 on CUDA, 256 for a sampler of
        independent draws such as the exact one, never more than ``n_samples``).
    thermalization : int, optional
        Warm-up sweeps before the pilot; default automatic (at least
        ``max(100, 20 tau)`` sweeps in all).
    thin : int, optional
        Sweeps between saved configurations; default ``ceil(2 max(tau_E, tau_|m|))``.
    pilot_sweeps : int, optional
        Initial pilot length (default 200, 100 for a sampler of independent draws).
    progress : bool
        Show tqdm progress bars (only when stderr is a terminal).
    checkpoint : path, optional
        ``.npz`` file to checkpoint every stage (warm-up, pilot, production) into and to
        resume from when it exists and was written by the same configuration; removed on
        success.
    checkpoint_every : float
        Seconds between checkpoints.

    Returns
    -------
    Dataset
        ``spins`` of shape ``(n_samples, *model.shape)``, int8, and its ``meta``.
    """
    n_samples_ = _check_count("n_samples", n_samples, 1)
    assert n_samples_ is not None
    n_samples = n_samples_
    n_chains = _check_count("n_chains", n_chains, 1)
    thermalization = _check_count("thermalization", thermalization, 0)
    thin = _check_count("thin", thin, 1)
    pilot_sweeps = _check_count("pilot_sweeps", pilot_sweeps, 2)

    if isinstance(algorithm, Sampler):
        sampler = algorithm
        if sampler.model != model:
            raise ValueError("the sampler given as `algorithm` was built for a different model")
        name = sampler.name or type(sampler).__name__
        dev = str(getattr(sampler, "device", "cpu"))
        caps = capabilities_of(sampler)  # None for a sampler class that is not registered
    else:
        spec, dev = select_spec(algorithm, model, device=device)
        sampler = spec.build(model, device=dev)
        name, caps = algorithm, spec.capabilities
    independent = caps is not None and caps.independent
    if n_chains is None:
        n_chains = default_chains(caps, dev)
    n_chains = min(n_chains, n_samples)
    if pilot_sweeps is None:
        pilot_sweeps = 100 if independent else PILOT_SWEEPS
    min_therm = 0 if independent else MIN_THERMALIZATION

    root = seed_sequence(seed)
    seed_record = int(seed) if isinstance(seed, (int, np.integer)) else None
    config = _jsonable(
        {
            **_model_meta(model),
            "algorithm": name,
            "sampler": type(sampler).__qualname__,
            "device": dev,
            "seed_entropy": root.entropy,
            "seed_spawn_key": list(root.spawn_key),
            "n_samples": n_samples,
            "n_chains": n_chains,
            "thermalization_arg": thermalization,
            "thin_arg": thin,
            "pilot_sweeps_arg": pilot_sweeps,
        }
    )
    run = ChainRun(
        sampler,
        model,
        root,
        config,
        n_samples=n_samples,
        n_chains=n_chains,
        show=bool(progress) and sys.stderr.isatty(),
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
    )
    with run.guarded():
        run.warm_up(min_therm if thermalization is None else thermalization)  # 1.
        if thin is None or thermalization is None:
            run.pilot(pilot_sweeps)  # 2.
        if thermalization is None and not independent:
            run.extra(min_therm)  # 3.
        if thin is None:
            thin = 1 if independent else max(1, math.ceil(THIN_TAUS * run.tau_max))
        run.produce(thin)  # 4.

    # saved-series autocorrelation (per chain over rounds, averaged)
    saved_tau_e: float | None = None
    saved_tau_m: float | None = None
    ess: float | None = None
    if run.n_rounds >= 2:
        saved_tau_e, saved_tau_m = _mean_tau(run.saved_e), _mean_tau(run.saved_m)
        ess = n_samples / max(saved_tau_e, saved_tau_m)
    # acceptance where the sampler reports single-spin updates (cluster samplers count
    # clusters as "attempted"); for an unregistered sampler, judged from what it reported
    counters = run.counters
    if caps is not None:
        local = "acceptance" in caps.reports
    else:
        local = counters.n_clusters == 0 and counters.attempted > 0
    meta = _jsonable(
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            **_model_meta(model),
            "n_samples": n_samples,
            "algorithm": name,
            "sampler": type(sampler).__qualname__,
            "device": dev,
            "seed": seed_record,
            "seed_entropy": root.entropy,
            "seed_spawn_key": list(root.spawn_key),
            "n_chains": n_chains,
            "thermalization": run.thermalization,
            "pilot_sweeps": run.pilot_done,
            "pilot_reliable": run.pilot_reliable,
            "thinning": run.thinning,
            "tau_energy": run.tau_e,
            "tau_abs_magnetization": run.tau_m,
            "saved_tau_energy": saved_tau_e,
            "saved_tau_abs_magnetization": saved_tau_m,
            "effective_sample_size": ess,
            "acceptance": (counters.accepted / counters.attempted)
            if local and counters.attempted
            else None,
            "mean_cluster_size": (counters.cluster_sites / counters.n_clusters)
            if counters.n_clusters
            else None,
            "sweeps_per_chain": run.thermalization + run.n_rounds * (run.thinning or 0),
            "elapsed_seconds": run.elapsed,
            "environment": environment_info(),
        }
    )
    if checkpoint is not None:
        Path(checkpoint).unlink(missing_ok=True)
    return Dataset(spins=run.samples[:n_samples].copy(), meta=meta)


def checkpoint_seed(path: str | os.PathLike) -> int | None:
    """The integer root seed recorded in the checkpoint at ``path``, if any (for resuming
    a run whose seed was drawn at random)."""
    try:
        _, meta = read_npz(path)
    except (FileFormatError, OSError):
        return None
    cfg = meta.get("config") or {}
    ent = cfg.get("seed_entropy")
    if (
        meta.get("format") == _chains.PARTIAL_FORMAT
        and isinstance(ent, int)
        and not cfg.get("seed_spawn_key")
    ):
        return ent
    return None


def save_dataset(dataset: Dataset, path: str | os.PathLike) -> Path:
    """Write ``dataset`` to ``path`` (``.npz``: ``spins`` + JSON ``meta``), atomically."""
    _validate(dataset.spins, dataset.meta, str(path))
    return write_npz(path, {"spins": dataset.spins}, dataset.meta)


def _validate(spins: Any, meta: dict[str, Any], where: str) -> None:
    """Raise :class:`FileFormatError` unless ``spins``/``meta`` form a valid dataset."""
    if meta.get("format") != FORMAT:
        raise FileFormatError(
            f"{where} is not a kadanoff dataset (format {meta.get('format')!r}, "
            f"expected {FORMAT!r}); create one with `kadanoff sample`"
        )
    version = meta.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise FileFormatError(f"{where}: invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise FileFormatError(
            f"{where} has dataset format version {version}, newer than this kadanoff "
            f"reads ({FORMAT_VERSION}); upgrade kadanoff"
        )
    missing = [k for k in _REQUIRED_META if k not in meta]
    if missing:
        raise FileFormatError(f"{where}: meta lacks the required keys {', '.join(missing)}")
    if meta["model"] != "ising":
        raise FileFormatError(f"{where}: unknown model {meta['model']!r} (expected 'ising')")
    try:
        model = _model_from_meta(meta)
    except (TypeError, ValueError) as e:
        raise FileFormatError(f"{where}: meta does not describe a valid Ising model ({e})") from e
    if not isinstance(spins, np.ndarray):
        raise FileFormatError(f"{where}: spins is not an array")
    if spins.dtype != np.int8:
        raise FileFormatError(f"{where}: spins have dtype {spins.dtype}, expected int8")
    expected = (meta["n_samples"], *model.shape)
    if spins.shape != expected:
        raise FileFormatError(
            f"{where}: spins have shape {spins.shape}, but meta ({meta['lattice']}, size "
            f"{meta['size']}, {meta['n_samples']} samples) implies {expected}"
        )
    if not np.all(np.abs(spins) == 1):
        raise FileFormatError(f"{where}: spins contain values other than -1 and +1")


def load_dataset(path: str | os.PathLike) -> Dataset:
    """Read a dataset written by :func:`save_dataset` (never unpickles).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    FileFormatError
        The file is corrupt, pickled, not a kadanoff dataset, of a newer format, or its
        spins disagree with its metadata (dtype, values, shape).
    """
    arrays, meta = read_npz(path)
    if "spins" not in arrays:
        raise FileFormatError(f"{path} has no 'spins' array: it is not a kadanoff dataset")
    _validate(arrays["spins"], meta, str(path))
    return Dataset(spins=arrays["spins"], meta=meta)
