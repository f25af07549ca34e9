"""Claims and reading of the MI-rule experiment (:mod:`.mi`), from its metrics only."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["claims_of", "reading_of"]


def _verdict(ok: bool | None) -> str:
    return "inconclusive" if ok is None else ("agrees" if ok else "differs")


def _pm(v: float, e: float) -> str:
    return "n/a" if v is None else f"{v:.4f} +- {e:.4f}"


def _diff(d: dict[str, float], key: str) -> tuple[float, float, str]:
    v, e = d[key], d[f"{key}_err"]
    return v, e, f"{v:+.5f} +- {e:.5f}"


def claims_of(m: dict[str, Any]) -> list[dict[str, Any]]:
    """Claims table rows (claim, how, result, verdict) from the metrics."""
    t, ex = m["train"], m["exact"]
    mi, fs, dd = t["mi"], t["filters"]["symmetric"], t["mi_diff"]
    out = []
    gain, gerr, gtxt = _diff(dd, "symmetric_sign-majority")
    ok = fs["cosine_uniform"] > 0.9 and fs["sign_equals_majority_off_ties"] and gain > -3 * gerr
    out.append({
        "claim": "At K_c the MI-optimal 2D block filter is close to the majority rule",
        "how": f"closed-form I(H:E) (exact block conditionals) maximized on {t['L']}x{t['L']} "
               f"K_c samples, {t['b']}x{t['b']} blocks, c = 0; cosine with the uniform filter; "
               "sign(filter) vs majority on untied blocks; I on held-out samples (paired "
               "jackknife for differences)",
        "result": f"cosine {fs['cosine_uniform']:.3f}; sign filter = majority off ties: "
                  f"{fs['sign_equals_majority_off_ties']}; I = "
                  f"{_pm(mi['symmetric_sign'], mi['symmetric_sign_err'])}, majority "
                  f"{_pm(mi['majority'], mi['majority_err'])} (learned - majority {gtxt}), "
                  f"decimation {_pm(mi['decimation'], mi['decimation_err'])}",
        "verdict": _verdict(ok),
    })  # fmt: skip
    c = t["chain"]
    cm = c["mi"]
    cg, cge, cgt = _diff(c["mi_diff"], "learned_sign-majority")
    ok = c["filter"]["sign_is_decimation"] and cg > 3 * cge
    out.append({
        "claim": "On a 1D chain the MI-optimal filter is decimation-like",
        "how": f"2-site blocks, buffer {c['buffer']}, ring N = {c['N']}, K = {c['K']}; "
               "concentration max|w|/sum|w|; sign(filter) = keeping one spin",
        "result": f"weights {np.round(c['filter']['weights'], 3).tolist()}, concentration "
                  f"{c['filter']['concentration']:.3f}; sign filter is decimation: "
                  f"{c['filter']['sign_is_decimation']}; I learned "
                  f"{_pm(cm['learned_sign'], cm['learned_sign_err'])}, decimation "
                  f"{_pm(cm['decimation'], cm['decimation_err'])}, majority "
                  f"{_pm(cm['majority'], cm['majority_err'])} (learned - majority {cgt})",
        "verdict": _verdict(ok),
    })  # fmt: skip
    if ex:
        ok = ex["ring_decimation"] > ex["ring_majority"] and (
            ex["torus_majority"] > ex["torus_decimation"])  # fmt: skip
        out.append({
            "claim": "Exactly: decimation beats majority on a 2-site chain block; majority beats "
                     "decimation on a 2x2 block at K_c",
            "how": "I(H:E) by enumeration: 16-site ring (buffer 2), 4x4 torus (all other sites)",
            "result": f"ring: decimation {ex['ring_decimation']:.5f}, majority "
                      f"{ex['ring_majority']:.5f}; torus: majority {ex['torus_majority']:.5f}, "
                      f"decimation {ex['torus_decimation']:.5f}, learned sign filters: c = 0 "
                      f"{ex['torus_symmetric_sign']:.5f}, free bias "
                      f"{ex['torus_free_bias_sign']:.5f}",
            "verdict": _verdict(ok),
        })  # fmt: skip
    if "buffered" in t:
        bf = t["buffered"]
        ok = bf["cosine_uniform"] > 0.9 and bf["sign_equals_majority_off_ties"]
        out.append({
            "claim": "With a buffer between block and environment (Koch-Janusz & Ringel) the "
                     "optimum is still majority-like",
            "how": f"one-shell buffer, exact 4x4 region conditionals, {bf['samples']} samples",
            "result": f"cosine {bf['cosine_uniform']:.3f}; sign = majority off ties: "
                      f"{bf['sign_equals_majority_off_ties']}; I(learned) - I(majority) = "
                      f"{bf['sign-majority']:+.5f} +- {bf['sign-majority_err']:.5f}",
            "verdict": _verdict(ok),
        })  # fmt: skip
    ff = t["filters"]["free_bias"]
    d, derr, dtxt = _diff(dd, "free_bias_sign-symmetric_sign")
    broken = abs(ff["bias_over_norm"]) > 0.1 and d > 3 * derr
    out.append({
        "claim": "The MI optimum is Z2 symmetric (no bias), like majority rule",
        "how": "the same training with a free bias c; |c|/|w| and I(free) - I(c = 0) (paired)",
        "result": f"c/|w| = {ff['bias_over_norm']:+.3f}; I(free) - I(c=0) = {dtxt}: "
                  + ("a free bias breaks the symmetry (tied blocks all go one way)"
                     if broken else "no significant symmetry breaking"),
        "verdict": _verdict(not broken),
    })  # fmt: skip
    fb = t["filters"]["bound"]
    a, bsym = np.sort(np.ravel(fb["weights"])), np.sort(np.ravel(fs["weights"]))
    cos = float(a @ bsym / (np.linalg.norm(a) * np.linalg.norm(bsym)))
    bd, bde, bdt = _diff(dd, "bound_sign-symmetric_sign")
    out.append({
        "claim": "The model-free variational bound finds an equally good filter",
        "how": "Barber-Agakov bound with a logistic critic on the environment, trained jointly "
               "(c = 0); cosine of the sorted weights (the block's symmetries permute optima); "
               "paired I difference",
        "result": f"sorted-weight cosine {cos:.3f}; cosine with uniform "
                  f"{fb['cosine_uniform']:.3f}; I(bound) - I(closed form) = {bdt}",
        "verdict": _verdict(cos > 0.95 and abs(bd) <= 3 * bde),
    })  # fmt: skip
    for key, r in m["mcrg"].items():
        if not key.endswith("mi_symmetric"):
            continue
        L = key.split("_")[0]
        maj, fb_r = m["mcrg"][f"{L}_majority"], m["mcrg"][f"{L}_mi_free_bias"]
        for q, exact in (("y_t", 1.0), ("y_h", 15 / 8)):
            dq = r[q] - maj[q]
            err = math.hypot(r[f"{q}_err"], maj[f"{q}_err"])
            ok = None if err > 0.03 else abs(dq) <= 0.03
            out.append({
                "claim": f"The MI rule (c = 0) gives the MCRG exponent {q} of majority rule "
                         f"({L[1:]}^2)",
                "how": f"T = G^-1 F at K_c, same configurations, step {r['level']}; |difference| "
                       "<= 0.03 (inconclusive when its error exceeds 0.03)",
                "result": f"MI {_pm(r[q], r[q + '_err'])} (exact {exact:g}, off by "
                          f"{r[q] - exact:+.4f}); majority {_pm(maj[q], maj[q + '_err'])} (off "
                          f"by {maj[q] - exact:+.4f}); free bias {_pm(fb_r[q], fb_r[q + '_err'])}",
                "verdict": _verdict(ok),
            })  # fmt: skip
        dev = {q: fb_r[q] - ex_q for q, ex_q in (("y_t", 1.0), ("y_h", 15 / 8))}
        big = max(fb_r["y_t_err"], fb_r["y_h_err"]) > 0.03
        out.append({
            "claim": f"The free-bias (Z2-breaking) MI rule gives the exact exponents ({L[1:]}^2)",
            "how": f"T = G^-1 F at K_c, step {fb_r['level']}; |y - exact| <= 0.03 for y_t and y_h",
            "result": f"y_t {_pm(fb_r['y_t'], fb_r['y_t_err'])} (off by {dev['y_t']:+.3f}), y_h "
                      f"{_pm(fb_r['y_h'], fb_r['y_h_err'])} (off by {dev['y_h']:+.3f}); the "
                      "bias injects a field, a relevant perturbation, which mixes the even and "
                      "odd sectors",
            "verdict": _verdict(None if big else all(abs(x) <= 0.03 for x in dev.values())),
        })  # fmt: skip
        z_sym = r["K_field_level1"] / r["K_field_level1_err"]
        z_free = fb_r["K_field_level1"] / fb_r["K_field_level1_err"]
        out.append({
            "claim": "The coarse Hamiltonian of the MI rule (c = 0) has no field, like majority "
                     f"({L[1:]}^2)",
            "how": "pseudo-likelihood field coupling at step 1 (c = 0 and free-bias filters)",
            "result": f"c = 0: K_field = {_pm(r['K_field_level1'], r['K_field_level1_err'])} "
                      f"(z = {z_sym:+.1f}); free bias: "
                      f"{_pm(fb_r['K_field_level1'], fb_r['K_field_level1_err'])} "
                      f"(z = {z_free:+.1f})",
            "verdict": _verdict(abs(z_sym) < 4),
        })  # fmt: skip
    return out


def reading_of(m: dict[str, Any]) -> str:
    """Plain-language reading, including where the MI rule is not block-spin RG."""
    t = m["train"]
    fs, ff, c = t["filters"]["symmetric"], t["filters"]["free_bias"], t["chain"]
    rows = claims_of(m)

    def verdict(start: str) -> str:
        return next(r["verdict"] for r in rows if r["claim"].startswith(start))

    two_d = verdict("At K_c the MI-optimal") == "agrees"
    one_d = verdict("On a 1D chain") == "agrees"
    z2 = verdict("The MI optimum is Z2")
    bound = verdict("The model-free") == "agrees"
    mc = []
    for k in (k for k in m["mcrg"] if k.endswith("mi_symmetric")):
        r, mj = m["mcrg"][k], m["mcrg"][k.replace("mi_symmetric", "majority")]
        mc.append(f"{k.split('_')[0][1:]}^2 (step {r['level']}): y_t {_pm(r['y_t'], r['y_t_err'])}"
                  f" vs majority {_pm(mj['y_t'], mj['y_t_err'])}, y_h "
                  f"{_pm(r['y_h'], r['y_h_err'])} vs {_pm(mj['y_h'], mj['y_h_err'])}")  # fmt: skip
    fb = [m["mcrg"][k] for k in m["mcrg"] if k.endswith("mi_free_bias")]
    fb_v = {r["verdict"] for r in rows if r["claim"].startswith("The free-bias")}
    fb_y = "; ".join(f"y_t {r['y_t']:.3f}, y_h {r['y_h']:.3f}" for r in fb)
    if "differs" in fb_v:
        fb_text = (
            "The free-bias filter is the clearest failure: its field grows from level to level "
            "(a relevant direction), the flow leaves the critical fixed point, and its exponents "
            f"({fb_y}) are not those of the Ising fixed point; a rule that maximizes information "
            "is not by itself an RG step: the symmetry has to be imposed."
        )
    else:
        fb_text = (
            f"The free-bias filter's exponents ({fb_y}) are "
            + ("close to the exact ones at this size." if "agrees" in fb_v
               else "not resolved at this size (errors above 0.03).")
        )  # fmt: skip
    return " ".join([
        "Maximizing the mutual information between a block's coarse spin and its environment",
        ("recovers" if two_d else "does not recover") + " a majority-like block spin at K_c: the",
        f"learned 2x2 filter has cosine {fs['cosine_uniform']:.3f} with the uniform filter and its",
        "sign is a majority rule whose tied blocks are decided by some of the spins instead of a",
        "coin (a deterministic tie-break keeps more information than a random one, so the",
        "optimum is not exactly the uniform filter).",
        f"On the chain the optimum {'keeps' if one_d else 'does not keep'} one spin",
        f"(concentration {c['filter']['concentration']:.2f}): decimation, which exact",
        "enumeration confirms beats majority there. Where it is not block-spin RG:",
        (f"with a free bias the optimum breaks the Z2 symmetry (c/|w| = "
         f"{ff['bias_over_norm']:+.2f}: all tied blocks go one way), so its coarse Hamiltonian "
         "acquires a field (" + ", ".join(f"{_pm(r['K_field_level1'], r['K_field_level1_err'])}"
                                          for r in fb) + ") that majority rule never has;")
        if z2 == "differs" else "a free bias does not break the Z2 symmetry here;",
        "the filter is trained once on the fine lattice and reused at every level, not",
        "re-optimized per level; and the closed-form objective uses the known Hamiltonian (the",
        "model-free Barber-Agakov bound, the honest learning setting, finds",
        ("an equally good filter)." if bound else "a different filter)."),
        "MCRG on the same configurations, symmetric filter: " + "; ".join(mc) + ".",
        fb_text,
    ])  # fmt: skip


#: rule labels in the network_rg summary
RULES = {"majority": "majority", "mi_symmetric": "MI rule (c = 0)",
         "mi_free_bias": "MI rule (free bias)"}  # fmt: skip


def summary_of(m: dict[str, Any]) -> dict[str, Any]:
    """Exponents per MCRG step and couplings per level of every rule and lattice
    (:mod:`.summary` rows) from the metrics ``m["mcrg"]["L<L>_<rule>"]``."""
    exps, cpls = [], []
    for key, r in m["mcrg"].items():
        L, rule = key.split("_", 1)
        L_, name = int(L[1:]), RULES.get(rule, rule)
        for i, lv in enumerate(r["levels_by_step"]):
            exps.append({
                "rule": name, "L": L_, "level": lv,
                "small_lattice": r["small_lattice_by_step"][i],
                "y_t": r["y_t_by_step"][i], "y_t_err": r["y_t_by_step_err"][i],
                "y_h": r["y_h_by_step"][i], "y_h_err": r["y_h_by_step_err"][i],
                "y_t_exact": r["y_t_exact"], "y_h_exact": r["y_h_exact"],
                "same_configurations": True,  # every rule replays one seed
            })  # fmt: skip
        n = len(r["K_nn_by_level"])
        c = {"rule": name, "L": L_, "levels": list(range(n))}
        for q in ("nn", "nnn", "field"):
            c[f"K_{q}"], c[f"K_{q}_err"] = r[f"K_{q}_by_level"], r[f"K_{q}_by_level_err"]
        cpls.append(c)
    return {"exponents": exps, "couplings": cpls}
