"""Does a translation-invariant learned rule do RG? A conv spin RBM beside majority rule.

A :class:`~kadanoff.rbm.conv.ConvSpinRBM` (one ``f x f`` filter, stride ``b``, periodic) is
trained by PCD at ``K_c`` on Wolff samples of the ``train_L x train_L`` Ising model; by
translation invariance the same filter is then applied to every measurement lattice and at every
level (:meth:`~kadanoff.rg.conv_rule.ConvRBMRule.repeated`, coarse spins ``h ~ p(h | v)`` or the
field's sign). Each measurement lattice gets Monte Carlo RG (theory.md 7) with exactly the
functions :mod:`kadanoff.experiments.rg_measured` uses for majority rule
(:func:`kadanoff.rg.measure`, :func:`kadanoff.rg.exponents`), run twice with one seed so both
rules block the SAME Ising configurations (checked: ``same_data``): ``y_t``, ``y_h`` by level
with jackknife errors, the renormalized couplings per level (pseudo-likelihood,
:func:`kadanoff.rg.fit_couplings`) and the coarse correlation functions in units of original
sites. The error of the distance gap ``|y_conv - exact| - |y_majority - exact|`` adds both
jackknife errors in quadrature, which overstates it (the two rules see the same samples).

Measured (PAPER, seed 0, 8 min 52 s on a shared 2-core machine): at L = 128, level 4, the conv
rule gives y_t = 0.9963(37), y_h = 1.87410(21) against majority rule's 0.9986(30), 1.87466(20);
at L = 64, level 3, 0.9879(28), 1.87292(19) against 0.9907(35), 1.87466(19).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Config", "QUICK", "PAPER", "compute", "plot", "claims", "reading", "summary"]

EXACT = {"y_t": 1.0, "y_h": 15 / 8}
RULES = ("conv", "majority")


@dataclass(frozen=True)
class Config:
    """Training (``train_*``) and measurement settings; ``levels[i]`` goes with ``sizes[i]``."""

    b: int = 2
    f: int = 3
    train_L: int = 16
    train_samples: int = 1000
    epochs: int = 2
    learning_rate: float = 0.05
    batch_size: int = 32
    k: int = 1
    persistent: bool = True
    l1: float = 0.0
    l2: float = 0.0
    mode: str = "sample"
    sizes: tuple[int, ...] = (32,)
    levels: tuple[int, ...] = (2,)
    samples: int = 4000
    keep: int = 400
    gibbs_chains: int = 100  # generative check: block-Gibbs chains of the trained RBM
    gibbs_steps: int = 200
    goal: float = 0.03  # |y_conv - exact| may exceed |y_majority - exact| by this much

    def __post_init__(self) -> None:
        if len(self.sizes) != len(self.levels):
            raise ValueError("sizes and levels must have the same length (one level count per L)")
        for L, lv in zip(self.sizes, self.levels, strict=True):
            if L % self.b**lv or L // self.b**lv < self.f:
                raise ValueError(f"L = {L} needs {lv} levels of b = {self.b} down to >= f sites")


QUICK = Config()
PAPER = Config(
    train_L=32, train_samples=20_000, epochs=10, sizes=(64, 128), levels=(3, 4),
    samples=200_000, keep=2000, gibbs_chains=400, gibbs_steps=1000,
)  # fmt: skip


def _correlations(x: np.ndarray, n_blocks: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """``<h_0 h_r>`` along both axes, ``r = 0..side/2``, and its error over blocks of configs."""
    side = x.shape[1]
    xs = x.astype(np.float64)
    per = np.stack(
        [0.5 * ((xs * np.roll(xs, r, 1)).mean((1, 2)) + (xs * np.roll(xs, r, 2)).mean((1, 2)))
         for r in range(side // 2 + 1)], axis=1,
    )  # fmt: skip
    blocks = np.array([blk.mean(0) for blk in np.array_split(per, n_blocks)])
    return per.mean(0), blocks.std(0, ddof=1) / np.sqrt(n_blocks)


def _couplings(x: np.ndarray) -> dict[str, Any] | None:
    from ...rg import fit_couplings

    try:
        return fit_couplings(x).as_dict()
    except ValueError:  # too small or frozen lattice: no finite maximum
        return None


def _final(table: dict[str, Any]) -> tuple[int, float, float]:
    """The deepest level with a coarse lattice >= 8 x 8 (else the last), full operator set."""
    q = table["quantity"]
    ok = [i for i, f in enumerate(table["flagged_small_lattice"]) if not f] or [-1]
    i = ok[-1]
    return table["levels"][i], table[q][i][-1], table[f"{q}_error"][i][-1]


def compute(
    config: Config, folder: Path, *, seed: int, device: str = "cpu", progress: bool = False
) -> dict[str, Any]:
    """Train, measure both rules on the same data, save JSON/NPZ in ``folder``; return metrics."""
    from ..._rng import make_rng, spawn, torch_generator
    from ...io import write_json, write_npz
    from ...ising import K_CRITICAL
    from ...rbm.conv import train_conv_rbm
    from ...rg import Compose, exponents, measure
    from ...rg.conv_rule import ConvRBMRule

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    c = config
    s_data, s_train, s_meas, s_gen = spawn(seed, 4)
    one = Compose.repeated("majority", c.train_L, c.b, 1)
    data = measure(c.train_L, K_CRITICAL, one, c.train_samples, seed=s_data, keep=c.train_samples)
    rbm, hist = train_conv_rbm(
        data.kept[0], c.b, c.f, seed=s_train, epochs=c.epochs, learning_rate=c.learning_rate,
        batch_size=c.batch_size, k=c.k, persistent=c.persistent, l1=c.l1, l2=c.l2,
        z2_symmetric=True, device=device,
    )  # fmt: skip
    p = rbm.numpy()
    write_npz(folder / "conv_rbm.npz", {"weights": p["weights"]}, {**p, "weights": None})
    write_json(folder / "training.json", hist.to_dict())
    m: dict[str, Any] = {
        "config": asdict(c), "K_critical": K_CRITICAL, "filter": p["weights"].tolist(),
        "filter_min": float(p["weights"].min()), "visible_bias": p["visible_bias"],
        "filter_peak_share": float(np.abs(p["weights"]).max() / np.abs(p["weights"]).sum()),
        "hidden_bias": p["hidden_bias"], "trained_at_L": c.train_L,
        "reconstruction_error": hist.reconstruction_error[-1], "sizes": {},
    }  # fmt: skip
    # how good a generative model of the critical data is the RBM? its own chains, from data
    start = data.kept[0][: c.gibbs_chains]
    model_v = rbm.gibbs(start, c.gibbs_steps, generator=torch_generator(s_gen, device=device))
    for who, x in (("data", data.kept[0]), ("model", model_v.cpu().numpy().astype(np.int8))):
        g, ge = _correlations(x)
        m[f"{who}_G"], m[f"{who}_G_err"] = g.tolist(), ge.tolist()
        m[f"{who}_abs_m"] = float(np.abs(x.mean((1, 2))).mean())
    for L, lv, stream in zip(c.sizes, c.levels, spawn(s_meas, len(c.sizes)), strict=True):
        run_seed = int(make_rng(stream).integers(2**62))  # one seed, both rules: same data
        rules = {
            "conv": ConvRBMRule.repeated(rbm, L, lv, mode=c.mode),
            "majority": Compose.repeated("majority", L, c.b, lv),
        }
        runs = {
            name: measure(L, K_CRITICAL, rule, c.samples, seed=run_seed, keep=c.keep,
                          progress=progress)
            for name, rule in rules.items()
        }  # fmt: skip
        same = bool(np.array_equal(runs["conv"].kept[0], runs["majority"].kept[0]))
        out: dict[str, Any] = {"same_data": same, "levels": lv, "samples": c.samples}
        arrays: dict[str, np.ndarray] = {}
        for name, run in runs.items():
            tables = {t.quantity: t.to_dict() for t in exponents(run)}
            write_json(folder / f"exponents_L{L}_{name}.json", tables)
            r: dict[str, Any] = {"seconds": run.sampling_seconds + run.measurement_seconds}
            for q, t in tables.items():
                lev, y, e = _final(t)
                r[q] = {"levels": t["levels"], "values": t[f"{q}_full_set"],
                        "errors": t[f"{q}_full_set_error"], "flagged": t["flagged_small_lattice"],
                        "final_level": lev, "final": y, "final_err": e,
                        "distance": abs(y - EXACT[q]), "distance_err": e}  # fmt: skip
            r["couplings"] = [_couplings(x) for x in run.kept]
            r["G_quarter"], r["G_quarter_err"] = [], []  # <s_0 s_R>, R = L/4 original sites
            for n, x in enumerate(run.kept):
                g, ge = _correlations(x)
                arrays[f"{name}_G{n}"], arrays[f"{name}_G{n}_err"] = g, ge
                r["G_quarter"].append(float(g[L // 4 // c.b**n]))
                r["G_quarter_err"].append(float(ge[L // 4 // c.b**n]))
            out[name] = r
        for q in EXACT:
            cq, mq = out["conv"][q], out["majority"][q]
            gap = cq["distance"] - mq["distance"]
            out[f"{q}_distance_gap"] = gap
            out[f"{q}_distance_gap_err"] = float(np.hypot(cq["final_err"], mq["final_err"]))
            out[f"{q}_within_goal"] = bool(gap <= c.goal)
        write_npz(folder / f"correlations_L{L}.npz", arrays, {"L": L, "b": c.b, "levels": lv})
        m["sizes"][str(L)] = out
    write_json(folder / "metrics.json", m)
    return m


def plot(folder: Path) -> list[Path]:
    """Filter, exponents by level, correlation functions and couplings (reads saved files)."""
    from .conv_plots import plot_all

    return plot_all(Path(folder))


def summary(metrics: dict[str, Any]) -> dict[str, Any]:
    """Rows for the network_rg summary (:mod:`.summary`): exponents by level and couplings per
    level of the conv rule and majority rule on the same configurations, every lattice."""
    names = {"conv": f"conv RBM ({metrics['config']['mode']})", "majority": "majority"}
    exps, cpls = [], []
    for L, s in metrics["sizes"].items():
        for name, rule in names.items():
            r = s[name]
            for i, lv in enumerate(r["y_t"]["levels"]):
                row: dict[str, Any] = {"rule": rule, "L": int(L), "level": lv,
                                       "small_lattice": r["y_t"]["flagged"][i],
                                       "same_configurations": s["same_data"]}  # fmt: skip
                for q, ex in EXACT.items():
                    row[q], row[f"{q}_err"] = r[q]["values"][i], r[q]["errors"][i]
                    row[f"{q}_exact"] = ex
                exps.append(row)
            fits = [c or {} for c in r["couplings"]]
            c_row: dict[str, Any] = {"rule": rule, "L": int(L), "levels": list(range(len(fits)))}
            for c in ("nn", "nnn", "field"):
                c_row[f"K_{c}"] = [f.get(f"K_{c}") for f in fits]
                c_row[f"K_{c}_err"] = [f.get(f"K_{c}_error") for f in fits]
            cpls.append(c_row)
    return {"exponents": exps, "couplings": cpls}


def _verdict(gap: float, err: float, goal: float) -> str:
    if gap <= goal:
        return "agrees"
    return "differs" if gap - goal > 2 * err else "inconclusive"


def claims(metrics: dict[str, Any]) -> list[dict[str, str]]:
    """Claims table rows: exponents vs majority, the filter's shape, couplings, same data."""
    from ..rg_plots import value_error

    goal = metrics["config"]["goal"]
    out = []
    for L, s in metrics["sizes"].items():
        for q, ex in EXACT.items():
            cq, mq = s["conv"][q], s["majority"][q]
            out.append({
                "claim": f"The learned conv rule reaches {q} = {ex:g} as well as majority rule",
                "how": f"MCRG T = G^-1 F at K_c, L = {L}, same configurations, level "
                       f"{cq['final_level']}, all operators; goal |conv - exact| <= "
                       f"|majority - exact| + {goal}",
                "result": f"conv {value_error(cq['final'], cq['final_err'])}, majority "
                          f"{value_error(mq['final'], mq['final_err'])}; distance gap "
                          f"{value_error(s[f'{q}_distance_gap'], s[f'{q}_distance_gap_err'])}",
                "verdict": _verdict(s[f"{q}_distance_gap"], s[f"{q}_distance_gap_err"], goal),
            })  # fmt: skip
    W = np.asarray(metrics["filter"])
    out.append({
        "claim": "The learned filter is a ferromagnetic local average, like a block spin",
        "how": f"PCD at K_c on {metrics['trained_at_L']} x {metrics['trained_at_L']} data, "
               f"one {len(W)} x {len(W)} filter with stride {metrics['config']['b']}",
        "result": "weights " + ", ".join(f"{w:.3f}" for w in W.ravel()),
        "verdict": "agrees" if W.min() > 0 else "differs",
    })  # fmt: skip
    R = len(metrics["data_G"]) // 2  # half the training lattice
    rows, ok = [], True
    for r in (1, R):
        gd, gm = metrics["data_G"][r], metrics["model_G"][r]
        err = float(np.hypot(metrics["data_G_err"][r], metrics["model_G_err"][r]))
        ok &= abs(gm - gd) <= 4 * err
        rows.append(f"r = {r}: model {value_error(gm, metrics['model_G_err'][r])}, data "
                    f"{value_error(gd, metrics['data_G_err'][r])}")  # fmt: skip
    out.append({
        "claim": "The trained conv RBM reproduces the critical data it was trained on",
        "how": f"<s_0 s_r> of {metrics['config']['gibbs_chains']} block-Gibbs chains "
               f"({metrics['config']['gibbs_steps']} steps from data) vs the data at r = 1 and "
               f"r = {R}; agrees if both within 4 standard errors",
        "result": "; ".join(rows),
        "verdict": "agrees" if ok else "differs",
    })  # fmt: skip
    for L, s in metrics["sizes"].items():
        ks = [(n, c) for n, c in enumerate(s["conv"]["couplings"][1:], 1) if c is not None]
        if not ks:
            continue
        k1, kl = ks[0][1]["K_nn"], ks[-1][1]["K_nn"]
        out.append({
            "claim": "At K_c the conv rule's couplings stay near a fixed point (no runaway flow)",
            "how": f"pseudo-likelihood K_nn per level, L = {L}; agrees if the last level's K_nn "
                   "is within a factor 1.5 of level 1's",
            "result": "; ".join(f"level {n}: {value_error(c['K_nn'], c['K_nn_error'])}"
                                for n, c in ks),
            "verdict": "agrees" if 1 / 1.5 <= kl / k1 <= 1.5 else "differs",
        })  # fmt: skip
    return out


def reading(metrics: dict[str, Any]) -> str:
    """Plain-language paragraph, including where the learned rule is not a block spin."""
    W = np.asarray(metrics["filter"])
    parts = [
        f"A single {len(W)} x {len(W)} filter, shared by every coarse site and trained by PCD "
        f"at K_c on {metrics['trained_at_L']} x {metrics['trained_at_L']} Ising samples, was "
        "applied unchanged to larger lattices and at every RG level (translation invariance "
        "makes that legitimate); both it and majority rule blocked the same configurations."
    ]
    for L, s in metrics["sizes"].items():
        c, mj = s["conv"], s["majority"]
        parts.append(
            f"At L = {L}, level {c['y_t']['final_level']}: y_t = {c['y_t']['final']:.3f} "
            f"({mj['y_t']['final']:.3f} for majority rule), y_h = {c['y_h']['final']:.3f} "
            f"({mj['y_h']['final']:.3f})."
        )
    L, s = list(metrics["sizes"].items())[-1]
    c, mj = s["conv"], s["majority"]
    first = {q: (abs(c[q]["values"][0] - EXACT[q]), abs(mj[q]["values"][0] - EXACT[q]))
             for q in EXACT}  # fmt: skip
    k_c = [x["K_nn"] for x in c["couplings"][1:] if x is not None]
    k_m = [x["K_nn"] for x in mj["couplings"][1:] if x is not None]
    shape = "positive and local" if W.min() > 0 else "not sign-definite"
    how = "drawn from p(h|v)" if metrics["config"]["mode"] == "sample" else "the field's sign"
    parts.append(
        f"The learned filter is {shape}, so the rule is a soft block spin: hidden spins are "
        f"{how}, with a weighted patch larger than the block instead of a vote of the block; "
        f"the largest weight holds {metrics['filter_peak_share']:.0%} of the total |W|"
        + (
            " (one site of the block dominates: closer to a smoothed decimation than to a block "
            "average)"
            if metrics["filter_peak_share"] > 1.5 / W.size
            else ""
        )
        + "."
    )
    worse = [q for q in EXACT if first[q][0] > first[q][1]]
    if worse:
        parts.append(
            f"Where it does not behave like majority rule: after one step its {' and '.join(worse)}"
            f" {'sits' if len(worse) == 1 else 'sit'} further from the exact value ("
            + "; ".join(f"{q}: off by {first[q][0]:.3f} vs {first[q][1]:.3f}" for q in worse)
            + "), i.e. it starts further from the fixed point and needs more levels."
        )
    if k_c and k_m:
        rel = "stronger" if k_c[0] > k_m[0] else "weaker"
        parts.append(
            f"Its coarse Hamiltonian is a different one: the level-1 nearest-neighbour coupling is "
            f"{k_c[0]:.3f} against majority rule's {k_m[0]:.3f} ({rel}), and its coarse "
            f"correlations at R = L/4 are {c['G_quarter'][1]:.3f} vs {mj['G_quarter'][1]:.3f}, "
            "so the two rules flow to different fixed-point Hamiltonians"
            + (" with the same exponents." if all(s[f"{q}_within_goal"] for q in EXACT) else ".")
        )
    g_d, g_m = metrics["data_G"][1], metrics["model_G"][1]
    R = len(metrics["data_G"]) // 2
    gap_R = abs(metrics["model_G"][R] - metrics["data_G"][R])
    parts.append(
        "Agreement in exponents, where it holds, says the filter is a valid local RG step; it "
        "does not say the network found an exact RG step. As a generative model of the "
        f"critical data the RBM is {'poor' if max(abs(g_m - g_d), gap_R) > 0.05 else 'fair'}: "
        "its own "
        f"Gibbs chains give a nearest-neighbour correlation {g_m:.3f} against the data's "
        f"{g_d:.3f}, and {metrics['model_G'][R]:.3f} vs {metrics['data_G'][R]:.3f} at distance "
        f"{R} (|m| {metrics['model_abs_m']:.3f} vs {metrics['data_abs_m']:.3f})."
    )
    return " ".join(parts)
