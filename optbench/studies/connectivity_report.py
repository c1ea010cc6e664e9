"""Tables, findings and figures of the connectivity study, from its payload's ``data`` alone."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from optbench.studies.base import Figure, Payload, Table
from optbench.studies.render import png as _png


def _metric_label(data: dict[str, Any]) -> str:
    return "error barrier" if data["error_barrier"] else f"{data['metric']} barrier"


def tables(data: dict[str, Any]) -> list[Table]:
    """The width table and the spawn table."""
    label = _metric_label(data)
    rows = [[w["width"], len(w["pairs"]), w["endpoint_metric"], w["naive_barrier_mean"], w["naive_barrier_ci"],
             w["aligned_barrier_mean"], w["aligned_barrier_ci"], w["naive_metric_barrier_mean"],
             w["aligned_metric_barrier_mean"]] for w in data["widths"]]
    width_table = Table(
        title="Independently trained solutions: barrier along the straight path, before and after weight matching",
        columns=["width", "pairs", f"{data['metric']} (ends)", "loss barrier", "95% CI", "aligned loss barrier",
                 "aligned 95% CI", label, f"aligned {label}"],
        rows=rows,
        notes=["barrier = max over alpha of loss((1-a)A + aB) - ((1-a) loss(A) + a loss(B)) (Frankle et al. 2020); "
               "mean over pairs of seeds, 95% bootstrap CI of the mean (3+ pairs).",
               "aligned: B's hidden units permuted to match A by weight matching (Ainsworth et al. 2023)."])
    check_rows = [[w["width"], len(w["pairs"]), max(q["sweeps"] for q in w["pairs"]),
                   max(q["max_abs_diff"] for q in w["pairs"]), max(q["max_rel_diff"] for q in w["pairs"]),
                   max(q["tolerance_rel"] for q in w["pairs"]), all(q["same_function"] for q in w["pairs"])]
                  for w in data["widths"] if w["pairs"]]
    check_table = Table(
        title="The permuted network computes the same function (outputs on the held-out inputs)",
        columns=["width", "pairs", "sweeps", "max |output diff|", "max rel. diff", "rounding tolerance (rel.)",
                 "same function"],
        rows=check_rows,
        notes=["same function: every output differs by no more than twice the first-order rounding bound of a "
               "forward pass (gamma_n (|W||h| + |b|) with n = fan-in + 1 per layer); relative to max |output|. "
               "sweeps: passes over the hidden layers until no permutation changed."])
    spawn_rows = []
    for e in data["spawn"]:
        stable = None
        if data["stable_threshold"] is not None and e["metric_barrier_mean"] is not None:
            stable = e["metric_barrier_mean"] <= data["stable_threshold"]
        spawn_rows.append([e["k"], e["epoch"], len(e["paths"]), e["loss_barrier_mean"], e["loss_barrier_ci"],
                           e["metric_barrier_mean"], e["metric_barrier_ci"], e["child_metric"], stable])
    spawn_table = Table(
        title="Two copies spawned from one run at step k, trained on different data orders (stability to SGD noise)",
        columns=["k (steps)", "k (epochs)", "seeds", "loss barrier", "95% CI", label, f"{label} 95% CI",
                 f"{data['metric']} (copies)", "stable"],
        rows=spawn_rows,
        notes=[f"both copies train to the same total step count; stable = {label} <= "
               f"{data['stable_threshold']} (Frankle et al. 2020's threshold)" if data["stable_threshold"] else
               "both copies train to the same total step count."])
    return [width_table, check_table, spawn_table]


def _pct(before: float, after: float) -> str:
    return f"{100 * (1 - after / before):.0f} %" if before > 0 else "n/a"


def findings(data: dict[str, Any]) -> list[str]:
    """Sentences computed from the numbers."""
    out: list[str] = []
    widths = [w for w in data["widths"] if w["pairs"]]
    if widths:
        ends = [widths[0], widths[-1]] if len(widths) > 1 else widths[:1]
        naive = " and ".join("{:.3g} at width {}".format(w["naive_barrier_mean"], w["width"]) for w in ends)
        after = " and ".join("{:.3g}".format(w["aligned_barrier_mean"]) for w in ends)
        removed = " and ".join(_pct(w["naive_barrier_mean"], w["aligned_barrier_mean"]) for w in ends)
        out.append(f"Without alignment the loss barrier between independent solutions is {naive}; after weight "
                   f"matching it is {after} (alignment removes {removed} of it).")
        aligned = [w["aligned_barrier_mean"] for w in widths]
        names = ", ".join(str(w["width"]) for w in widths)
        if len(widths) > 1 and all(b < a for a, b in itertools.pairwise(aligned)):
            out.append(f"The aligned barrier shrinks at every step of width ({names}), as Entezari et al. 2022 "
                       "predict.")
        elif len(widths) > 1 and aligned[-1] < aligned[0]:
            out.append(f"The aligned barrier is lower at the largest width than at the smallest ({aligned[-1]:.3g} vs "
                       f"{aligned[0]:.3g}) but does not fall at every step of width ({names}).")
        elif len(widths) > 1:
            out.append(f"The aligned barrier does not shrink with width here ({aligned[0]:.3g} at width "
                       f"{widths[0]['width']}, {aligned[-1]:.3g} at {widths[-1]['width']}).")
        pairs = [q for w in widths for q in w["pairs"]]
        bad = [q for q in pairs if not q["same_function"]]
        worst = max(pairs, key=lambda q: q["max_rel_diff"])
        if bad:
            out.append(f"{len(bad)} of {len(pairs)} permuted networks differ from the original by more than "
                       f"rounding allows (largest ratio to the bound {max(q['bound_ratio'] for q in bad):.3g}).")
        else:
            out.append(f"All {len(pairs)} permuted networks compute the same function as before: the largest "
                       f"relative output difference is {worst['max_rel_diff']:.2g} (rounding allows "
                       f"{worst['tolerance_rel']:.2g}).")
    spawn = [e for e in data["spawn"] if e["paths"]]
    if spawn:
        first, last = spawn[0], spawn[-1]
        label = _metric_label(data)
        text = (f"Copies spawned at step {first['k']} have a loss barrier of {first['loss_barrier_mean']:.3g}"
                + (f" ({label} {first['metric_barrier_mean']:.3g})" if first["metric_barrier_mean"] is not None else "")
                + (f"; spawned at step {last['k']}, {last['loss_barrier_mean']:.3g}" if last is not first else "")
                + (f" ({label} {last['metric_barrier_mean']:.3g})."
                   if last is not first and last["metric_barrier_mean"] is not None else "."))
        out.append(text)
        threshold = data["stable_threshold"]
        if threshold is not None:
            stable = [e["metric_barrier_mean"] <= threshold for e in spawn]
            if all(stable):
                out.append(f"The copies are stable to SGD noise ({label} <= {threshold}) at every k tried, "
                           f"from k = {first['k']} on.")
            elif any(stable):
                since = next(i for i in range(len(spawn)) if all(stable[i:])) if stable[-1] else None
                out.append(f"The copies become stable ({label} <= {threshold}) from k = {spawn[since]['k']} on."
                           if since is not None else f"Stability ({label} <= {threshold}) holds at k = "
                           f"{', '.join(str(e['k']) for e, ok in zip(spawn, stable, strict=True) if ok)} only.")
            else:
                out.append(f"The copies are not stable ({label} > {threshold}) at any k tried.")
    return out


def _errorbar(ax: Any, xs: Sequence[float], means: Sequence[float | None], cis: Sequence[Any], **kw: Any) -> None:
    pts = [(x, m, c) for x, m, c in zip(xs, means, cis, strict=True) if m is not None]
    if not pts:
        return
    low = [m - c[0] if c else 0.0 for _, m, c in pts]
    high = [c[1] - m if c else 0.0 for _, m, c in pts]
    ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[low, high], capsize=3, marker="o", **kw)



def draw(payload: Payload) -> list[Figure]:
    """Loss along each path, barrier vs width, barrier vs spawn step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = payload["data"]
    alphas, figures = data["alphas"], []
    colors = plt.get_cmap("viridis")
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    widths = [w for w in data["widths"] if w["pairs"]]
    for i, w in enumerate(widths):
        c = colors(i / max(1, len(widths) - 1))
        left.plot(alphas, w["naive_loss_mean"], "--", color=c, label=f"width {w['width']}")
        left.plot(alphas, w["aligned_loss_mean"], "-", color=c, label=f"width {w['width']} aligned")
    left.set(title="independent solutions (dashed: as trained, solid: aligned)", xlabel="alpha", ylabel="train loss")
    spawn = [e for e in data["spawn"] if e["paths"]]
    for i, e in enumerate(spawn):
        right.plot(alphas, e["loss_mean"], color=plt.get_cmap("plasma")(i / max(1, len(spawn))), label=f"k = {e['k']}")
    right.set(title="copies spawned at step k", xlabel="alpha")
    for ax in (left, right):
        if ax.lines:
            ax.legend(fontsize=7)
    figures.append(Figure("connectivity-paths.png", "Mean training loss along the straight path between two "
                                                    "solutions (alpha = 0: A, 1: B)", _png(fig)))
    label = _metric_label(data)
    if widths:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
        ws = [w["width"] for w in widths]
        for ax, key, name in ((axes[0], "barrier", "loss barrier"), (axes[1], "metric_barrier", label)):
            _errorbar(ax, ws, [w[f"naive_{key}_mean"] for w in widths], [w[f"naive_{key}_ci"] for w in widths],
                      label="as trained", linestyle="--")
            _errorbar(ax, ws, [w[f"aligned_{key}_mean"] for w in widths], [w[f"aligned_{key}_ci"] for w in widths],
                      label="after weight matching")
            ax.set_xscale("log", base=2)
            ax.set(xlabel="hidden width", ylabel=name, title=f"{name} vs width")
            ax.set_xticks(ws, [str(w) for w in ws])
            ax.legend(fontsize=8)
        figures.append(Figure("connectivity-width.png", "Barrier between independent solutions vs width, before "
                                                        "and after alignment (mean, 95% bootstrap CI)", _png(fig)))
    if spawn:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
        ks = [e["k"] for e in spawn]
        for ax, key, name in ((axes[0], "loss_barrier", "loss barrier"), (axes[1], "metric_barrier", label)):
            _errorbar(ax, ks, [e[f"{key}_mean"] for e in spawn], [e[f"{key}_ci"] for e in spawn])
            ax.set_xscale("symlog", linthresh=max(1, min([k for k in ks if k > 0], default=1)))
            ax.set(xlabel="spawn step k", ylabel=name, title=f"{name} vs spawn step")
            if key == "metric_barrier" and data["stable_threshold"] is not None:
                ax.axhline(data["stable_threshold"], color="grey", linestyle=":", label="2 % (Frankle et al.)")
                ax.legend(fontsize=8)
        figures.append(Figure("connectivity-spawn.png", "Barrier between two copies spawned at step k and trained "
                                                        "on different data orders (mean, 95% bootstrap CI)", _png(fig)))
    return figures
