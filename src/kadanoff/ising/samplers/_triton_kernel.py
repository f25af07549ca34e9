"""The Triton kernel of :mod:`.triton_checkerboard` (imported only where triton is installed).

Compiled for CUDA by ``triton.jit``; with ``TRITON_INTERPRET=1`` set before triton is first
imported, ``triton.jit`` gives Triton's interpreter instead, which runs the same kernel on CPU
tensors (how the tests run it without a GPU). The hash constants are those of
:mod:`kadanoff.kernels.counter_hash` (one definition).
"""

import triton
import triton.language as tl

from ...kernels import counter_hash as _hash

_GOLDEN = tl.constexpr(int(_hash.GOLDEN))
_C1 = tl.constexpr(int(_hash.C1))
_C2 = tl.constexpr(int(_hash.C2))


@triton.jit
def _update(s_ptr, tab_ptr, base, x, y, ck, t, L, m):
    """Update the sites ``(x, y)`` of the lattices at ``base`` in sweep ``t``; return the flip
    mask. ``ck``: their chain keys (uint64)."""
    xu = tl.where(x == 0, L - 1, x - 1)
    xd = tl.where(x == L - 1, 0, x + 1)
    yl = tl.where(y == 0, L - 1, y - 1)
    yr = tl.where(y == L - 1, 0, y + 1)
    here = base + x * L + y
    s = tl.load(s_ptr + here, mask=m, other=1).to(tl.int32)
    nb = tl.load(s_ptr + base + xu * L + y, mask=m, other=0).to(tl.int32)
    nb += tl.load(s_ptr + base + xd * L + y, mask=m, other=0).to(tl.int32)
    nb += tl.load(s_ptr + base + x * L + yl, mask=m, other=0).to(tl.int32)
    nb += tl.load(s_ptr + base + x * L + yr, mask=m, other=0).to(tl.int32)
    # row seed: splitmix64(chain key + (t L + x + 1) golden), as kernels.counter_hash.row_seed
    z = ck + (t * L + x + 1).to(tl.uint64) * _GOLDEN
    z = (z ^ (z >> 30)) * _C1
    z = (z ^ (z >> 27)) * _C2
    z = z ^ (z >> 31)
    lo = (z & 0xFFFFFFFF).to(tl.uint32)
    hi = (z >> 32).to(tl.uint32)
    # lowbias32(lowbias32(lo + y) ^ hi), as kernels.counter_hash.hash32
    r = lo + y.to(tl.uint32)
    r = r ^ (r >> 16)
    r = r * 0x7FEB352D
    r = r ^ (r >> 15)
    r = r * 0x846CA68B
    r = r ^ (r >> 16)
    r = r ^ hi
    r = r ^ (r >> 16)
    r = r * 0x7FEB352D
    r = r ^ (r >> 15)
    r = r * 0x846CA68B
    r = r ^ (r >> 16)
    idx = nb + 4 + 9 * (s > 0).to(tl.int32)
    thr = tl.load(tab_ptr + idx, mask=m, other=0)
    flip = (r.to(tl.int64) <= thr) & m
    tl.store(s_ptr + here, tl.where(flip, -s, s).to(tl.int8), mask=m)
    return flip


@triton.jit
def half_sweep(
    s_ptr,  # int8 (B, L, L), updated in place
    ck_ptr,  # int64 (B,): chain keys (uint64 bits)
    tab_ptr,  # int64 (18,): thresholds
    flips_ptr,  # int32 (n_programs,): flips per program
    t,  # sweep index
    c,  # colour
    L,
    total,  # B * L * L / 2
    BLOCK: tl.constexpr,
):
    """One colour of one sweep, ``BLOCK`` sites per program (any B and L: large lattices)."""
    pid = tl.program_id(0)
    offs = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
    m = offs < total
    H = L // 2
    per = L * H
    b = offs // per
    k = offs - b * per
    x = k // H
    y = 2 * (k - x * H) + ((x + c) & 1)
    ck = tl.load(ck_ptr + b, mask=m, other=0).to(tl.uint64, bitcast=True)
    flip = _update(s_ptr, tab_ptr, b * L * L, x, y, ck, t, L, m)
    tl.store(flips_ptr + pid, tl.sum(flip.to(tl.int32), axis=0))


@triton.jit
def lattice_sweeps(
    s_ptr,  # int8 (B, L, L), updated in place
    ck_ptr,  # int64 (B,): chain keys (uint64 bits)
    tab_ptr,  # int64 (18,): thresholds
    flips_ptr,  # int64 (B,): flips per lattice (added to)
    t0,  # first sweep index
    n_sweeps,
    L,
    BLOCK: tl.constexpr,  # >= L * L / 2
):
    """All ``n_sweeps`` sweeps of lattice ``program_id`` in one program (small lattices: many
    in one launch, no launch per half-sweep); a barrier separates the colours."""
    b = tl.program_id(0).to(tl.int64)
    H = L // 2
    k = tl.arange(0, BLOCK).to(tl.int64)
    m = k < L * H
    x = k // H
    j = k - x * H
    ck = tl.load(ck_ptr + b).to(tl.uint64, bitcast=True)
    base = b * L * L
    nf = tl.zeros((BLOCK,), dtype=tl.int32)
    for t in range(t0, t0 + n_sweeps):
        for c in range(2):
            y = 2 * j + ((x + c) & 1)
            flip = _update(s_ptr, tab_ptr, base, x, y, ck, t, L, m)
            nf += flip.to(tl.int32)
            tl.debug_barrier()  # this colour's stores are visible before the next one's loads
    tl.store(flips_ptr + b, tl.load(flips_ptr + b) + tl.sum(nf, axis=0).to(tl.int64))
