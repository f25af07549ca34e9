"""Equilibrium Ising datasets: generate, save, load.

:func:`generate_dataset` runs ``n_chains`` independent Markov chains of one sampler and
saves configurations far enough apart to be effectively independent:

1. **warm-up**: ``MIN_THERMALIZATION`` sweeps from a random (hot) start (none for the
   exact chain sampler), or ``thermalization`` sweeps when given;
2. **pilot**: the chains go on for ``PILOT_SWEEPS`` sweeps recording the energy ``H`` and
   ``|m|`` after every sweep; the integrated autocorrelation times ``tau_E`` and
   ``tau_|m|`` (Sokal window, :func:`kadanoff.stats.integrated_time`) are estimated per
   chain and averaged over chains. The pilot doubles (up to ``MAX_PILOT_SWEEPS``) until it
   is longer than ``50 max(tau)`` so the estimate can be trusted;
3. **more thermalization** (automatic mode only) until the chains have done at least
   ``max(MIN_THERMALIZATION, 20 max(tau))`` sweeps in all;
4. **production**: the thinning interval is ``ceil(2 max(tau_E, tau_|m|))`` sweeps unless
   ``thin`` is given (1 for the exact sampler, whose draws are independent); each round
   advances every chain by that many sweeps and saves every chain. The times are measured
   again on the saved series (they should be about 1) and give the effective sample size
   ``n_samples / max(tau_saved)``.

Every call to the sampler gets its own seed, a pure function of the root seed, the stage
and the call's index, so a run is reproducible bit for bit for a fixed seed and number of
chains and can be resumed from a checkpoint (``checkpoint=PATH``: collected samples,
chain state and counters, rewritten atomically every ``checkpoint_every`` seconds and on
interruption). Default numbers of chains are fixed (not the machine's core count) so that
the same seed gives the same dataset on any machine.

Saved samples are ordered round by round: sample ``r * n_chains + c`` is chain ``c``
after production round ``r``.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._rng import SeedLike, _seed_sequence
from ..io import FileFormatError, environment_info, read_npz, to_json, write_npz
from ..lattice import make_lattice
from ..stats import integrated_time
from .model import IsingModel
from .samplers import LOCAL_ALGORITHMS, Sampler, make_sampler, resolve_device

__all__ = [
    "Dataset",
    "generate_dataset",
    "save_dataset",
    "load_dataset",
    "checkpoint_path",
    "checkpoint_seed",
    "FORMAT",
    "FORMAT_VERSION",
]

#: ``meta["format"]`` of a dataset file
FORMAT = "kadanoff.ising.dataset"
#: newest dataset file version this module reads and the one it writes
FORMAT_VERSION = 1
_PARTIAL_FORMAT = "kadanoff.ising.dataset.partial"

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
_CHUNK = 100
#: default numbers of chains (fixed, so results do not depend on the machine)
DEFAULT_CHAINS = {"cpu": 16, "cuda": 512, "exact": 256}

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

# stages of a run; each sampler call's seed is (root, stage, index)
_INIT, _WARMUP, _PILOT, _EXTRA, _PRODUCTION = range(5)


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


def _stage_seed(root: np.random.SeedSequence, stage: int, i: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(
        root.entropy, spawn_key=(*root.spawn_key, stage, i), pool_size=root.pool_size
    )


def _observables(model: IsingModel, spins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Energy ``H`` and ``|m|`` per chain, shapes ``(n_chains,)``."""
    e = model.energy(spins)
    m = np.abs(model.magnetization_sum(spins)) / model.n_sites
    return np.asarray(e, np.float64), np.asarray(m, np.float64)


def _mean_tau(series: np.ndarray) -> float:
    """Integrated time per chain (columns of ``(n_steps, n_chains)``), averaged."""
    return float(np.mean([integrated_time(series[:, c]).tau for c in range(series.shape[1])]))


def _progress(total: int | None, desc: str, enabled: bool, unit: str = "sweep") -> Any:
    from tqdm.auto import tqdm

    return tqdm(
        total=total, desc=desc, unit=unit, disable=not enabled, leave=False, file=sys.stderr
    )


class _Counters:
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
        Independent chains (default 16 on CPU, 512 on CUDA, 256 for the exact sampler,
        never more than ``n_samples``).
    thermalization : int, optional
        Warm-up sweeps before the pilot; default automatic (at least
        ``max(100, 20 tau)`` sweeps in all).
    thin : int, optional
        Sweeps between saved configurations; default ``ceil(2 max(tau_E, tau_|m|))``.
    pilot_sweeps : int, optional
        Initial pilot length (default 200, 100 for the exact sampler).
    progress : bool
        Show tqdm progress bars (only when stderr is a terminal).
    checkpoint : path, optional
        ``.npz`` file to checkpoint production into and resume from when it exists and was
        written by the same configuration; removed on success.
    checkpoint_every : float
        Seconds between checkpoints.

    Returns
    -------
    Dataset
        ``spins`` of shape ``(n_samples, *model.shape)``, int8, and its ``meta``.
    """
    t0 = time.perf_counter()
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
    else:
        dev = resolve_device(algorithm, model, device)
        sampler = make_sampler(algorithm, model, device=dev)
        name = algorithm
    exact = name == "exact"
    if n_chains is None:
        key = "exact" if exact else ("cuda" if dev.startswith("cuda") else "cpu")
        n_chains = DEFAULT_CHAINS[key]
    n_chains = min(n_chains, n_samples)
    if pilot_sweeps is None:
        pilot_sweeps = 100 if exact else PILOT_SWEEPS
    min_therm = 0 if exact else MIN_THERMALIZATION

    root = _seed_sequence(seed)
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
    show = bool(progress) and sys.stderr.isatty()
    shape = model.shape
    n_rounds = math.ceil(n_samples / n_chains)
    samples = np.empty((n_rounds * n_chains, *shape), dtype=np.int8)
    saved_e = np.empty((n_rounds, n_chains))
    saved_m = np.empty((n_rounds, n_chains))

    resumed = _read_checkpoint(checkpoint, config) if checkpoint is not None else None
    if resumed is not None:
        arrays, state = resumed
        rounds_done = int(state["rounds_done"])
        samples[: rounds_done * n_chains] = arrays["samples"]
        saved_e[:rounds_done] = arrays["energy"]
        saved_m[:rounds_done] = arrays["abs_magnetization"]
        spins = np.ascontiguousarray(arrays["state"], dtype=np.int8)
        thin_used = int(state["thinning"])
        therm_total = int(state["thermalization"])
        tau_e, tau_m = state["tau_energy"], state["tau_abs_magnetization"]
        pilot_done, pilot_reliable = int(state["pilot_sweeps"]), state["pilot_reliable"]
        counters = _Counters(state["counters"])
        elapsed_before = float(state["elapsed_seconds"])
    else:
        rounds_done, elapsed_before, counters = 0, 0.0, _Counters()
        spins = sampler.init_state(n_chains, seed=_stage_seed(root, _INIT, 0))
        # 1. warm-up
        n_warm = min_therm if thermalization is None else thermalization
        with _progress(n_warm, "thermalizing", show) as bar:
            done = 0
            while done < n_warm:
                k = min(_CHUNK, n_warm - done)
                spins, _ = sampler.run(spins, k, seed=_stage_seed(root, _WARMUP, done // _CHUNK))
                done += k
                bar.update(k)
        therm_total = n_warm
        # 2. pilot
        tau_e = tau_m = None
        pilot_done, pilot_reliable = 0, None
        if thin is None or thermalization is None:
            es: list[np.ndarray] = []
            ms: list[np.ndarray] = []
            target = pilot_sweeps
            with _progress(target, "pilot run", show) as bar:
                while True:
                    while pilot_done < target:
                        spins, _ = sampler.run(spins, 1, seed=_stage_seed(root, _PILOT, pilot_done))
                        e, m = _observables(model, spins)
                        es.append(e)
                        ms.append(m)
                        pilot_done += 1
                        bar.update(1)
                    tau_e = _mean_tau(np.array(es))
                    tau_m = _mean_tau(np.array(ms))
                    pilot_reliable = pilot_done > RELIABLE_TAUS * max(tau_e, tau_m)
                    if pilot_reliable or target >= MAX_PILOT_SWEEPS:
                        break
                    target = min(2 * target, MAX_PILOT_SWEEPS)
                    bar.total = target
                    bar.refresh()
            if not pilot_reliable:
                warnings.warn(
                    f"the pilot run of {pilot_done} sweeps is shorter than {RELIABLE_TAUS} "
                    f"autocorrelation times (tau_E={tau_e:.3g}, tau_|m|={tau_m:.3g}); the "
                    "estimates and the thinning may be too small: pass a larger thin",
                    RuntimeWarning,
                    stacklevel=2,
                )
            therm_total += pilot_done
        # 3. more thermalization if the chains are slow
        tau_max = max(tau_e or 1.0, tau_m or 1.0)
        if thermalization is None and not exact:
            need = max(min_therm, math.ceil(THERMALIZATION_TAUS * tau_max)) - therm_total
            with _progress(max(need, 0), "thermalizing", show) as bar:
                done = 0
                while done < need:
                    k = min(_CHUNK, need - done)
                    spins, _ = sampler.run(spins, k, seed=_stage_seed(root, _EXTRA, done // _CHUNK))
                    done += k
                    bar.update(k)
            therm_total += max(need, 0)
        if thin is not None:
            thin_used = thin
        elif exact:
            thin_used = 1
        else:
            thin_used = max(1, math.ceil(THIN_TAUS * tau_max))

    # 4. production
    def state_meta() -> dict[str, Any]:
        return {
            "format": _PARTIAL_FORMAT,
            "format_version": FORMAT_VERSION,
            "config": config,
            "rounds_done": rounds_done,
            "thinning": thin_used,
            "thermalization": therm_total,
            "tau_energy": tau_e,
            "tau_abs_magnetization": tau_m,
            "pilot_sweeps": pilot_done,
            "pilot_reliable": pilot_reliable,
            "counters": counters.as_dict(),
            "elapsed_seconds": elapsed_before + time.perf_counter() - t0,
        }

    def save_checkpoint() -> None:
        assert checkpoint is not None
        k = rounds_done * n_chains
        write_npz(
            checkpoint,
            {
                "samples": samples[:k],
                "energy": saved_e[:rounds_done],
                "abs_magnetization": saved_m[:rounds_done],
                "state": spins,
            },
            state_meta(),
        )

    last_saved = time.perf_counter()
    if checkpoint is not None and resumed is None:
        save_checkpoint()
    dirty = False
    try:
        with _progress(n_samples, "sampling", show, unit="sample") as bar:
            bar.update(min(rounds_done * n_chains, n_samples))
            for r in range(rounds_done, n_rounds):
                new, info = sampler.run(spins, thin_used, seed=_stage_seed(root, _PRODUCTION, r))
                samples[r * n_chains : (r + 1) * n_chains] = new
                saved_e[r], saved_m[r] = _observables(model, new)
                counters.add(info)
                spins, rounds_done, dirty = new, r + 1, True
                bar.update(min(n_chains, n_samples - r * n_chains))
                if checkpoint is not None and time.perf_counter() - last_saved >= checkpoint_every:
                    save_checkpoint()
                    last_saved, dirty = time.perf_counter(), False
    except BaseException:
        if checkpoint is not None and dirty:
            save_checkpoint()
        raise

    # saved-series autocorrelation (per chain over rounds, averaged)
    saved_tau_e: float | None = None
    saved_tau_m: float | None = None
    ess: float | None = None
    if n_rounds >= 2:
        saved_tau_e, saved_tau_m = _mean_tau(saved_e), _mean_tau(saved_m)
        ess = n_samples / max(saved_tau_e, saved_tau_m)
    # acceptance for local rules (cluster samplers count clusters as "attempted")
    local = name in LOCAL_ALGORITHMS or (counters.n_clusters == 0 and counters.attempted > 0)
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
            "thermalization": therm_total,
            "pilot_sweeps": pilot_done,
            "pilot_reliable": pilot_reliable,
            "thinning": thin_used,
            "tau_energy": tau_e,
            "tau_abs_magnetization": tau_m,
            "saved_tau_energy": saved_tau_e,
            "saved_tau_abs_magnetization": saved_tau_m,
            "effective_sample_size": ess,
            "acceptance": (counters.accepted / counters.attempted)
            if local and counters.attempted
            else None,
            "mean_cluster_size": (counters.cluster_sites / counters.n_clusters)
            if counters.n_clusters
            else None,
            "sweeps_per_chain": therm_total + n_rounds * thin_used,
            "elapsed_seconds": elapsed_before + time.perf_counter() - t0,
            "environment": environment_info(),
        }
    )
    if checkpoint is not None:
        Path(checkpoint).unlink(missing_ok=True)
    return Dataset(spins=samples[:n_samples].copy(), meta=meta)


def _read_checkpoint(
    path: str | os.PathLike, config: dict[str, Any]
) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    """The checkpoint at ``path`` if it exists and matches ``config``, else ``None``."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        arrays, meta = read_npz(path)
    except FileFormatError as e:
        warnings.warn(f"ignoring unreadable checkpoint {path}: {e}", RuntimeWarning, stacklevel=3)
        return None
    if meta.get("format") != _PARTIAL_FORMAT or meta.get("config") != config:
        warnings.warn(
            f"ignoring checkpoint {path}: it was written by a different configuration; "
            "starting afresh (it will be overwritten)",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    return arrays, meta


def checkpoint_seed(path: str | os.PathLike) -> int | None:
    """The integer root seed recorded in the checkpoint at ``path``, if any (for resuming
    a run whose seed was drawn at random)."""
    try:
        _, meta = read_npz(path)
    except (FileFormatError, FileNotFoundError):
        return None
    cfg = meta.get("config") or {}
    ent = cfg.get("seed_entropy")
    if (
        meta.get("format") == _PARTIAL_FORMAT
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
