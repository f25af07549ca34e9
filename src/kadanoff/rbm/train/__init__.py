"""Training RBMs by contrastive divergence (CD-k) and persistent CD (theory.md sections 3, 6).

Training minimizes ``KL(P || p_lambda)`` (MS 14). In kadanoff's energy convention
``E(v, h) = -(v W h + a.v + b.h)`` the ascent direction is

    dW_ij = <v_i h_j>_data - <v_i h_j>_model,   da_i = <v_i>_data - <v_i>_model,
    db_j  = <h_j>_data - <h_j>_model,

where in the data term ``h`` is drawn from ``p(h | v)`` (we use its mean, ``tanh`` of the
field for spin units and ``sigmoid`` for {0,1} units, unless ``sample_positive_hidden``),
with ``p(h_j = up | v) = sigmoid(2 field)`` for spins (theory.md section 3),
and the model term comes from ``cd_k`` block-Gibbs steps started at the data (CD-k) or from
persistent chains carried across updates (PCD). The model term uses the hidden *means* given
the final visible state (Rao-Blackwellized, no extra noise).

The inner loop keeps all parameters in one augmented matrix ``P = [[W, a], [b^T, 0]]``
(momentum buffer alike, one in-place update for all) with row strides padded to 16
elements. Visible and hidden batches live in preallocated buffers ``V = [v0; vk | 1]`` and
``H = [h0; -(B/C) hk | 1; -(B/C)]`` so that the positive and negative statistics are one
fused GEMM ``[v0, 1; vk, 1]^T [h0, 1; -hk, -1]`` (weights and both bias sums at once)
accumulated straight into the momentum buffer (``beta`` = momentum), then one contiguous
pass ``P += velocity``. Fields are ``addmm`` with the spin factor 2 folded into ``alpha`` (the
visible bias via the ones column of ``[h, 1]``). On CPU a compiled kernel draws each layer's
samples in one vectorized pass from a counter-based hash (the hidden data term's mean in
the same pass); elsewhere samples are drawn branch-free from one ``torch.rand`` per layer.
All ops are in place, the per-step views are made once, and there is no host
synchronization inside an epoch. Small CPU problems run on one thread (see
:data:`SINGLE_THREAD_BELOW`).

Randomness: every epoch draws from its own stream derived from ``(seed, epoch)``, so a run
resumed from a checkpoint after epoch ``e`` is bit-for-bit the run done in one go (same
device, same number of threads). On CPU the unit samples use uniforms on multiples of
``2^-24`` (float32; ``2^-31`` for float64) hashed from a per-epoch key and the unit's
(row, column) position, independent of the thread count. Each epoch uses
``n // batch_size`` full mini-batches of a fresh permutation. Precision: float32 by default;
``precision="bf16-mixed"`` (bf16 products, float32 master weights: :mod:`kadanoff.rbm.train.mixed`)
or ``"auto"`` (bf16-mixed where a start-up probe finds it >= 1.5x faster:
:mod:`kadanoff.rbm.precision`).

Modules: :mod:`.config` (:class:`TrainConfig`, presets, schedules; imports no torch),
:mod:`.callbacks`, :mod:`.checkpoint`, :mod:`.data`, :mod:`._kernels` (compiled Bernoulli
kernels), :mod:`.trainer` (the inner loop), :mod:`.mixed` (its bf16-mixed variant) and
:mod:`.api` (:func:`train_rbm`, :func:`cd_gradient`). Names are loaded on first use, so
``from kadanoff.rbm.train import PRESETS`` does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes
from . import config

# the configuration imports no torch: loaded at once; everything else on first use
from .config import *  # noqa: F403

if TYPE_CHECKING:
    # for type checkers; __all__ (dynamic) lists them
    from .api import SINGLE_THREAD_BELOW, TrainResult, cd_gradient, train_rbm  # noqa: F401
    from .callbacks import Callback, Checkpoint, EarlyStopping, ExactKL  # noqa: F401
    from .checkpoint import jsonable_entropy, load_checkpoint, write_checkpoint  # noqa: F401
    from .data import prepare_data  # noqa: F401
    from .mixed import MixedTrainer  # noqa: F401
    from .trainer import Trainer, UnitStream, padded  # noqa: F401

#: public name -> submodule that defines it
_WHERE = {
    **dict.fromkeys(("TrainResult", "train_rbm", "cd_gradient", "SINGLE_THREAD_BELOW"), "api"),
    **dict.fromkeys(("Callback", "ExactKL", "EarlyStopping", "Checkpoint"), "callbacks"),
    **dict.fromkeys(("write_checkpoint", "load_checkpoint", "jsonable_entropy"), "checkpoint"),
    "prepare_data": "data",
    **dict.fromkeys(("Trainer", "UnitStream", "padded"), "trainer"),
    "MixedTrainer": "mixed",
}

__all__ = [*config.__all__, *_WHERE]

__getattr__, __dir__ = lazy_attributes(globals(), _WHERE)
