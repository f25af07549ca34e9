"""Translation- and rotation-summed spin operators ``S_a`` on the square lattice (theory.md 7).

An operator is one pattern of sites (offsets ``(dx, dy)``) summed over every lattice translation
and every distinct orientation under the square's symmetry group (rotations and reflections):
``S_nn = sum_x [v_x v_{x+(0,1)} + v_x v_{x+(1,0)}]`` has ``2 L^2`` products, as in
:mod:`kadanoff.rg.projection` (``H = c - sum_a K_a S_a``). Even operators (an even number of
spins) carry the thermal eigenvalue ``y_t``, odd ones the magnetic ``y_h``.

:data:`BASIS` lists the operators in the order MCRG tables add them; :class:`OperatorSet`
evaluates a chosen set on batches ``(n, L, L)`` by a compiled kernel (:meth:`OperatorSet.evaluate`),
checked exactly against a plain loop (:meth:`OperatorSet.evaluate_reference`), and lists the
products of each operator on an ``L x L`` torus (:meth:`OperatorSet.products`) for the
pseudo-likelihood of :mod:`kadanoff.rg.mcrg_couplings`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit, prange, types
from numba.extending import intrinsic

from ..lattice import SquareLattice

__all__ = ["SpinOperator", "BASIS", "EVEN", "ODD", "OperatorSet", "orientations", "Products"]

Offsets = tuple[tuple[int, int], ...]

_D4 = [
    lambda x, y: (x, y),
    lambda x, y: (-y, x),
    lambda x, y: (-x, -y),
    lambda x, y: (y, -x),
    lambda x, y: (x, -y),
    lambda x, y: (-x, y),
    lambda x, y: (y, x),
    lambda x, y: (-y, -x),
]


def _normalize(offsets: Iterable[tuple[int, int]]) -> Offsets:
    pts = sorted((int(x), int(y)) for x, y in offsets)
    x0, y0 = pts[0]
    return tuple((x - x0, y - y0) for x, y in pts)


def orientations(pattern: Sequence[tuple[int, int]]) -> list[Offsets]:
    """Distinct images of ``pattern`` under the 8 symmetries of the square, up to translation.

    Each image is translated so that its lexicographically smallest site is ``(0, 0)``.
    """
    seen: list[Offsets] = []
    for g in _D4:
        img = _normalize(g(x, y) for x, y in pattern)
        if img not in seen:
            seen.append(img)
    return seen


@dataclass(frozen=True)
class SpinOperator:
    """A pattern of sites summed over translations and orientations (theory.md 7)."""

    name: str
    pattern: Offsets
    description: str

    @property
    def parity(self) -> str:
        return "odd" if len(self.pattern) % 2 else "even"

    @property
    def images(self) -> list[Offsets]:
        return orientations(self.pattern)


#: The operator basis, in the order the convergence tables add operators.
BASIS: tuple[SpinOperator, ...] = (
    SpinOperator("nn", ((0, 0), (0, 1)), "nearest neighbours, distance 1"),
    SpinOperator("nnn", ((0, 0), (1, 1)), "diagonal neighbours, distance sqrt 2"),
    SpinOperator("3nn", ((0, 0), (0, 2)), "distance 2 along an axis"),
    SpinOperator("plaquette", ((0, 0), (0, 1), (1, 0), (1, 1)), "four spins of a plaquette"),
    SpinOperator("knight", ((0, 0), (1, 2)), "knight's move, distance sqrt 5"),
    SpinOperator("5nn", ((0, 0), (2, 2)), "distance sqrt 8 (diagonal 2)"),
    SpinOperator("6nn", ((0, 0), (0, 3)), "distance 3 along an axis"),
    SpinOperator("field", ((0, 0),), "magnetization (single spin)"),
    SpinOperator("three", ((0, 0), (0, 1), (1, 0)), "three spins of a plaquette (nn corner)"),
    SpinOperator("line3", ((0, 0), (0, 1), (0, 2)), "three spins in a row"),
    SpinOperator("diag3", ((0, 0), (1, 1), (2, 2)), "three spins on a diagonal"),
)
_BY_NAME = {op.name: op for op in BASIS}
#: names of the even and odd operators of :data:`BASIS`, in table order
EVEN = tuple(op.name for op in BASIS if op.parity == "even")
ODD = tuple(op.name for op in BASIS if op.parity == "odd")


@intrinsic
def _popcount(typingctx, x):
    """LLVM ``ctpop`` on a uint64 (the CPU's popcount instruction where it has one)."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return sig, codegen


_HIGH_BITS = np.uint64(0x8080808080808080)
_GATHER = np.uint64(0x0002040810204081)
_S56 = np.uint64(56)


@njit(cache=True)
def _pack_rows(v8, L, W, base):
    """Bit ``j`` of ``base[x, w]`` is 1 where spin ``(x, 64 w + j)`` is -1 (``L % 8 == 0``).

    ``v8`` is one configuration viewed as ``(L, L / 8)`` uint64: byte ``i`` of a word is the
    spin ``8 k + i``; the multiply gathers the eight sign bits into one byte.
    """
    for x in range(L):
        for w in range(W):
            word = np.uint64(0)
            for b in range(8):
                k = 8 * w + b
                if 8 * k < L:
                    byte = ((v8[x, k] & _HIGH_BITS) * _GATHER) >> _S56
                    word |= byte << np.uint64(8 * b)
            base[x, w] = word


@njit(cache=True)
def _rotations(base, L, W, R, out):
    """``out[x, R + d]`` = row ``x`` rotated so that bit ``j`` holds column ``(j + d) mod L``."""
    for x in range(L):
        for e in range(2 * R + 1):
            d = (e - R + 3 * L) % L
            if W == 1:
                w0 = base[x, 0]
                if d == 0:
                    out[x, e, 0] = w0
                else:
                    mask = (
                        (np.uint64(1) << np.uint64(L)) - np.uint64(1) if L < 64 else ~np.uint64(0)
                    )
                    r = (w0 >> np.uint64(d)) | (w0 << np.uint64(L - d))
                    out[x, e, 0] = r & mask
            else:
                q, r = d // 64, d % 64
                for w in range(W):
                    lo = base[x, (w + q) % W]
                    if r == 0:
                        out[x, e, w] = lo
                    else:
                        hi = base[x, (w + q + 1) % W]
                        out[x, e, w] = (lo >> np.uint64(r)) | (hi << np.uint64(64 - r))


@njit(cache=True)
def _rotations_generic(v, L, W, R, out):
    """:func:`_rotations` built spin by spin, for any ``L`` (no ``L % 8`` or word alignment)."""
    for x in range(L):
        for e in range(2 * R + 1):
            d = (e - R + 3 * L) % L
            for w in range(W):
                word = np.uint64(0)
                for j in range(64):
                    J = 64 * w + j
                    if J >= L:
                        break
                    jj = J + d
                    if jj >= L:
                        jj -= L
                    if v[x, jj] < 0:
                        word |= np.uint64(1) << np.uint64(j)
                out[x, e, w] = word


@njit(parallel=True, cache=True)
def _pattern_sums_bits(v, v8, fast, L, W, R, dx, dy, order, out):
    """out[i, p] = sum over translations of product pattern ``p`` (bit-parallel XOR/popcount).

    ``fast``: ``v8`` is ``v`` viewed as uint64 (``L % 8 == 0`` and ``L <= 64`` or
    ``L % 64 == 0``); otherwise the rows are packed spin by spin.
    """
    n = v.shape[0]
    for i in prange(n):
        base = np.empty((L, W), dtype=np.uint64)
        rot = np.empty((L + R, 2 * R + 1, W), dtype=np.uint64)  # rows L.. wrap to 0..
        if fast:
            _pack_rows(v8[i], L, W, base)
            _rotations(base, L, W, R, rot)
        else:
            _rotations_generic(v[i], L, W, R, rot)
        for x in range(L, L + R):
            rot[x] = rot[x % L]
        for p in range(order.shape[0]):
            k = order[p]
            e0, e1, e2, e3 = R + dy[p, 0], R + dy[p, 1], R + dy[p, 2], R + dy[p, 3]
            c = np.uint64(0)
            for x in range(L):
                r0 = rot[x + dx[p, 0], e0]
                if k == 1:
                    for w in range(W):
                        c += _popcount(r0[w])
                elif k == 2:
                    r1 = rot[x + dx[p, 1], e1]
                    for w in range(W):
                        c += _popcount(r0[w] ^ r1[w])
                elif k == 3:
                    r1, r2 = rot[x + dx[p, 1], e1], rot[x + dx[p, 2], e2]
                    for w in range(W):
                        c += _popcount(r0[w] ^ r1[w] ^ r2[w])
                else:
                    r1, r2, r3 = rot[x + dx[p, 1], e1], rot[x + dx[p, 2], e2], rot[x + dx[p, 3], e3]
                    for w in range(W):
                        c += _popcount(r0[w] ^ r1[w] ^ r2[w] ^ r3[w])
            out[i, p] = L * L - 2 * np.int64(c)


@njit(cache=True)
def _pad(v, R, P):
    """P[x, y] = v[x mod L, (y - R) mod L] for x < L + R, y < L + 2R."""
    L = v.shape[0]
    for x in range(P.shape[0]):
        for y in range(P.shape[1]):
            P[x, y] = v[x % L, (y - R + 3 * L) % L]


@njit(cache=True)
def _pattern_sums_one(P, L, R, dx, dy, order, out):
    """Sum over translations of every product pattern for one padded configuration."""
    for p in range(order.shape[0]):
        k = order[p]
        total = 0
        for x in range(L):
            r0 = P[x + dx[p, 0]]
            c0 = R + dy[p, 0]
            acc = np.int32(0)
            if k == 1:
                for y in range(L):
                    acc += np.int32(r0[c0 + y])
            elif k == 2:
                r1 = P[x + dx[p, 1]]
                c1 = R + dy[p, 1]
                for y in range(L):
                    acc += np.int32(r0[c0 + y] * r1[c1 + y])
            elif k == 3:
                r1, r2 = P[x + dx[p, 1]], P[x + dx[p, 2]]
                c1, c2 = R + dy[p, 1], R + dy[p, 2]
                for y in range(L):
                    acc += np.int32(r0[c0 + y] * r1[c1 + y] * r2[c2 + y])
            else:
                r1, r2, r3 = P[x + dx[p, 1]], P[x + dx[p, 2]], P[x + dx[p, 3]]
                c1, c2, c3 = R + dy[p, 1], R + dy[p, 2], R + dy[p, 3]
                for y in range(L):
                    acc += np.int32(r0[c0 + y] * r1[c1 + y] * r2[c2 + y] * r3[c3 + y])
            total += acc
        out[p] = total


@njit(parallel=True, cache=True)
def _pattern_sums(v, R, dx, dy, order, out):
    """out[i, p] = sum over translations of product pattern p of configuration i."""
    n, L = v.shape[0], v.shape[1]
    for i in prange(n):
        P = np.empty((L + R, L + 2 * R), dtype=np.int8)
        _pad(v[i], R, P)
        _pattern_sums_one(P, L, R, dx, dy, order, out[i])


@dataclass(frozen=True)
class Products:
    """The products of one operator on an ``L x L`` torus: ``S = constant + sum_p mult_p prod``.

    ``sites`` is a list of int arrays (one per product, flat row-major sites, each appearing
    once: a site repeated by a wrapping pattern cancels in pairs, ``v_i^2 = 1``), ``mult`` the
    multiplicity of each product, ``constant`` the number of products that cancelled entirely.
    """

    name: str
    sites: list[np.ndarray]
    mult: np.ndarray
    constant: int


class OperatorSet:
    """An ordered set of operators from :data:`BASIS` or custom ones (theory.md 7).

    Parameters
    ----------
    operators : names or :class:`SpinOperator`
        Default: every operator of :data:`BASIS`.
    """

    def __init__(self, operators: Sequence[str | SpinOperator] | None = None) -> None:
        ops = []
        for o in BASIS if operators is None else operators:
            if isinstance(o, SpinOperator):
                ops.append(o)
            elif o in _BY_NAME:
                ops.append(_BY_NAME[o])
            else:
                raise ValueError(f"unknown operator {o!r}: choose from {', '.join(_BY_NAME)}")
        names = [o.name for o in ops]
        if len(set(names)) != len(names) or not ops:
            raise ValueError(f"operator names must be distinct and at least one, got {names}")
        self.operators: tuple[SpinOperator, ...] = tuple(ops)
        images = [(a, img) for a, op in enumerate(ops) for img in op.images]
        if any(len(img) > 4 for _, img in images):
            raise ValueError("the compiled kernel supports patterns of at most 4 spins")
        self._owner = np.array([a for a, _ in images], dtype=np.int64)
        n_pat = len(images)
        self._order = np.array([len(img) for _, img in images], dtype=np.int64)
        self._dx = np.zeros((n_pat, 4), dtype=np.int64)
        self._dy = np.zeros((n_pat, 4), dtype=np.int64)
        for p, (_, img) in enumerate(images):
            for k, (x, y) in enumerate(img):
                self._dx[p, k], self._dy[p, k] = x, y
        self._R = int(max(np.abs(self._dx).max(), np.abs(self._dy).max()))
        self._images = [img for _, img in images]

    @property
    def names(self) -> tuple[str, ...]:
        """Operator names, in order (theory.md 7)."""
        return tuple(o.name for o in self.operators)

    @property
    def parities(self) -> tuple[str, ...]:
        """``"even"`` (y_t sector) or ``"odd"`` (y_h sector) per operator (theory.md 7)."""
        return tuple(o.parity for o in self.operators)

    def __len__(self) -> int:
        return len(self.operators)

    def __repr__(self) -> str:
        return f"OperatorSet({list(self.names)})"

    def sector(self, parity: str) -> OperatorSet:
        """The even or odd operators of this set, same order (theory.md 7)."""
        ops = [o for o in self.operators if o.parity == parity]
        if not ops:
            raise ValueError(f"the operator set {list(self.names)} has no {parity} operator")
        return OperatorSet(ops)

    def evaluate(self, configs: np.ndarray) -> np.ndarray:
        """``S_a`` of each configuration: ``(n, L, L)`` ±1 -> ``(n, n_operators)`` int64.

        Bit-parallel: XOR and popcount on rows packed into 64-bit words (theory.md 7); the
        int8 kernel :func:`_pattern_sums` computes the same sums (a benchmark peer).
        """
        v = np.ascontiguousarray(configs, dtype=np.int8)
        if v.ndim != 3 or v.shape[1] != v.shape[2]:
            raise ValueError(f"configs must have shape (n, L, L), got {v.shape}")
        out = np.zeros((len(v), len(self._order)), dtype=np.int64)
        L = v.shape[1]
        if len(v):
            W = (L + 63) // 64
            fast = L % 8 == 0 and (L <= 64 or L % 64 == 0)
            v8 = v.view(np.uint64) if fast else np.zeros((len(v), 1, 1), np.uint64)
            args = (L, W, self._R, self._dx, self._dy, self._order, out)
            _pattern_sums_bits(v, v8, fast, *args)
        S = np.zeros((len(v), len(self)), dtype=np.int64)
        np.add.at(S.T, self._owner, out.T)
        return S

    def evaluate_reference(self, configs: np.ndarray) -> np.ndarray:
        """Plain loops over configurations, sites and orientations (test oracle, theory.md 7)."""
        v = np.asarray(configs)
        n, L = v.shape[0], v.shape[1]
        S = np.zeros((n, len(self)), dtype=np.int64)
        for i in range(n):
            for a, op in enumerate(self.operators):
                total = 0
                for img in op.images:
                    for x in range(L):
                        for y in range(L):
                            prod = 1
                            for dx, dy in img:
                                prod *= int(v[i, (x + dx) % L, (y + dy) % L])
                            total += prod
                S[i, a] = total
        return S

    def products(self, L: int) -> list[Products]:
        """Every product of every operator on the ``L x L`` torus (``Products``, theory.md 7)."""
        SquareLattice(L)  # validates L
        out = []
        x, y = np.meshgrid(np.arange(L), np.arange(L), indexing="ij")
        for op in self.operators:
            sites_list: list[np.ndarray] = []
            constant = 0
            for img in op.images:
                cols = [(((x + dx) % L) * L + (y + dy) % L).ravel() for dx, dy in img]
                sites = np.stack(cols, axis=1)
                srt = np.sort(sites, axis=1)
                if np.all(srt[:, 1:] != srt[:, :-1]):
                    sites_list += list(sites)
                    continue
                for row in sites:
                    u, c = np.unique(row, return_counts=True)
                    odd = u[c % 2 == 1]
                    if len(odd):
                        sites_list.append(odd)
                    else:
                        constant += 1
            # merge equal products (patterns wrapping onto each other on small tori)
            keys: dict[tuple[int, ...], int] = {}
            for s in sites_list:
                t = tuple(sorted(int(i) for i in s))
                keys[t] = keys.get(t, 0) + 1
            out.append(
                Products(
                    op.name,
                    [np.array(k, dtype=np.int64) for k in keys],
                    np.array(list(keys.values()), dtype=np.int64),
                    constant,
                )
            )
        return out
