"""Seeds -> independent random streams. The only place generators are made.

Every stochastic function in kadanoff takes a keyword-only ``seed`` (an int, a
``numpy.random.SeedSequence`` or ``numpy.random.Generator``) and turns it into a
generator here. Independent streams (per chain, per layer, per thread) are spawned
from one ``SeedSequence`` so a recorded seed replays a run bit for bit.
"""

from __future__ import annotations

import numpy as np

SeedLike = int | np.integer | np.random.SeedSequence | np.random.Generator | None

__all__ = [
    "SeedLike",
    "seed_sequence",
    "child_sequence",
    "make_rng",
    "spawn",
    "kernel_key",
    "torch_generator",
    "fresh_seed",
]


def seed_sequence(seed: SeedLike) -> np.random.SeedSequence:
    """The ``numpy.random.SeedSequence`` of ``seed`` (the root of every stream made from it).

    A SeedSequence is returned as is; a Generator is drawn from (4 words, advancing it, so
    successive calls differ); ``None`` gives fresh OS entropy; an int must be >= 0.
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(seed.integers(0, 2**63 - 1, size=4).tolist())
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        if int(seed) < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        return np.random.SeedSequence(int(seed))
    raise TypeError(
        "seed must be an int, a numpy SeedSequence or Generator, or None; "
        f"got {type(seed).__name__}"
    )


def child_sequence(ss: np.random.SeedSequence, *key: int) -> np.random.SeedSequence:
    """The deterministic child stream of ``ss`` named by ``key`` (``spawn_key`` extended by it).

    Unlike :meth:`numpy.random.SeedSequence.spawn` it keeps no counter: the same ``key`` gives
    the same stream, so a stream per ``(purpose, epoch)`` can be remade on resume.
    """
    return np.random.SeedSequence(entropy=ss.entropy, spawn_key=(*ss.spawn_key, *key))


def make_rng(seed: SeedLike = None) -> np.random.Generator:
    """Return a ``numpy.random.Generator`` for ``seed``.

    A Generator is passed through unchanged (so callers can share one stream);
    anything else seeds a fresh PCG64 generator.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.Generator(np.random.PCG64(seed_sequence(seed)))


def spawn(seed: SeedLike, n: int) -> list[np.random.Generator]:
    """``n`` statistically independent generators derived from one seed."""
    if n < 0:
        raise ValueError(f"cannot spawn a negative number ({n}) of streams")
    return [np.random.Generator(np.random.PCG64(s)) for s in seed_sequence(seed).spawn(n)]


def kernel_key(seed: SeedLike) -> np.uint64:
    """A 64-bit key for the counter-based RNGs of compiled kernels.

    Draws from ``seed`` when it is a Generator (advancing it), so successive calls
    with the same Generator give different keys; an int seed always gives the same key.
    """
    rng = make_rng(seed)
    return np.uint64(rng.integers(0, 2**64 - 1, dtype=np.uint64, endpoint=True))


def fresh_seed() -> int:
    """A new random seed to record when the user gave none."""
    entropy = np.random.SeedSequence().entropy
    assert isinstance(entropy, int)
    return entropy % (2**63)


def torch_generator(seed: SeedLike, device: str | None = None):  # -> torch.Generator
    """A ``torch.Generator`` on ``device`` seeded from ``seed``."""
    import torch

    g = torch.Generator(device=device or "cpu")
    g.manual_seed(int(make_rng(seed).integers(0, 2**63 - 1)))
    return g
