"""The tickets' stability to SGD noise at their rewind step, measured in the same run (Frankle et al. 2020).

Each chain trains, next to the ticket of every round, a second copy of it: the same mask and rewound
weights, another data order. The barrier along the straight path between the two trained copies says
whether the ticket at its rewind step is stable (error barrier below 2 %, by its 95 % interval over the
independent seeds); the dense network gets the same measure at the rewind step, as the reference.
Frankle et al. 2020 find that IMP subnetworks match the dense network only where they are stable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from optbench.studies.base import Table
from optbench.studies.intervals import mean_ci, verdict_symbol
from optbench.studies.paths import BARRIERS, STABLE_ERROR, stability_verdict

NAMES = {"train_loss": "train loss", "test_loss": "test loss", "train_error": "train error", "test_error": "test error"}


def summarize(measures: Sequence[dict[str, Any] | None]) -> dict[str, Any] | None:
    """Mean and t 95 % interval over seeds of each barrier between the two copies; the stability verdict on
    the test error barrier. None when the chains did not measure it (a run stored before, or ``--points 0``)."""
    if not measures or any(m is None for m in measures):
        return None
    out: dict[str, Any] = {"n": len(measures)}
    for name in BARRIERS:
        values = [m["barriers"][name] for m in measures if m["barriers"][name] is not None]  # type: ignore[index]
        out[name] = {"mean": sum(values) / len(values) if values else None, "ci": mean_ci(values)}
    out["stable"] = stability_verdict(out["test_error"]["ci"]) if out["test_error"]["mean"] is not None else None
    out["metric_mean"] = [sum(col) / len(col) for col in zip(*(m["metric"] for m in measures), strict=True)]  # type: ignore[index]
    return out


def table(data: dict[str, Any]) -> Table | None:
    """Per sparsity: the ticket's test metric, whether it matches the dense network, and its barriers."""
    dense, levels = data["dense"], data["levels"]
    if dense.get("stability") is None or any(lv.get("stability") is None for lv in levels):
        return None
    error = "error" if data["higher_is_better"] else data["metric"]

    def row(rnd: int, sparsity: float, summary: dict[str, Any], stab: dict[str, Any], matches: Any) -> list[Any]:
        return [rnd, sparsity, summary["mean"], summary["ci"], matches, stab["test_error"]["mean"],
                stab["test_error"]["ci"], stab["train_error"]["mean"], stab["train_loss"]["mean"],
                stab["test_loss"]["mean"], stab["stable"]]

    rows = [row(0, 0.0, dense, dense["stability"], None)]
    rows += [row(lv["round"], lv["sparsity"], lv["ticket"], lv["stability"], verdict_symbol(lv["ticket_test"]))
             for lv in levels]
    return Table(
        title=f"Stability to SGD noise at the rewind step (k = {data.get('rewind_step', 0)}): two copies of each "
              "ticket on different data orders",
        columns=["round", "sparsity", f"ticket {data['metric']}", "95% CI", "ticket matches dense",
                 f"test {error} barrier", "95% CI", f"train {error} barrier", "train loss barrier",
                 "test loss barrier", "stable"],
        rows=rows,
        notes=["the ticket (mask + weights rewound to step k) is trained twice, on the chain's data order and on "
               "another; barrier: the largest excess along the straight path between the two over the chord of its "
               "ends (Frankle et al. 2020). Round 0: the dense network's step-k weights, its own run against a copy "
               f"on another order. stable: the 95% CI (t over the independent seeds) of the test {error} barrier "
               f"lies below {STABLE_ERROR} (no: above; else cannot tell)."])


def findings(data: dict[str, Any]) -> list[str]:
    """How stability at the rewind step goes with sparsity, next to 'matches dense'."""
    dense, levels = data["dense"], data["levels"]
    if dense.get("stability") is None or not levels or any(lv.get("stability") is None for lv in levels):
        return []
    k = data.get("rewind_step", 0)
    word = {True: "stable", False: "not stable", "cannot tell": "undecided", None: "undecided"}

    def describe(stab: dict[str, Any]) -> str:
        ci = stab["test_error"]["ci"]
        ci_text = f" [{ci[0]:.3g}, {ci[1]:.3g}]" if ci else ""
        return f"{stab['test_error']['mean']:.3g}{ci_text}"

    out = [f"At the rewind step k = {k} the dense network is {word[dense['stability']['stable']]} to SGD noise "
           f"(test error barrier between two copies {describe(dense['stability'])}, threshold {STABLE_ERROR})."]
    stable = [lv for lv in levels if lv["stability"]["stable"] is True]
    unstable = [lv for lv in levels if lv["stability"]["stable"] is False]
    first, last = levels[0], levels[-1]
    out.append(f"The ticket's test error barrier at k = {k} is {describe(first['stability'])} at sparsity "
               f"{100 * first['sparsity']:.1f} % and {describe(last['stability'])} at {100 * last['sparsity']:.1f} %; "
               f"stable at {len(stable)}, not stable at {len(unstable)}, undecided at "
               f"{len(levels) - len(stable) - len(unstable)} of {len(levels)} sparsities.")
    matching = [lv for lv in levels if lv["ticket_matches"]]
    both = [lv for lv in matching if lv["stability"]["stable"] is True]
    not_matching = [lv for lv in levels if lv["ticket_test"]["verdict"] == "no"]
    stable_not_matching = [lv for lv in not_matching if lv["stability"]["stable"] is True]
    unstable_matching = [lv for lv in matching if lv["stability"]["stable"] is False]
    if unstable_matching or stable_not_matching:
        verdict = "disagrees with Frankle et al. 2020, where matching tickets are the stable ones"
    elif matching and len(both) == len(matching):
        verdict = "as Frankle et al. 2020 find, the matching tickets are stable"
    else:
        verdict = "whether matching goes with stability (Frankle et al. 2020) cannot be told at this resolution"
    out.append(f"Of the {len(matching)} sparsities where the ticket matches the dense network, it is stable at "
               f"{len(both)} and not stable at {len(unstable_matching)}; of the {len(not_matching)} where it does not "
               f"match, it is stable at {len(stable_not_matching)}: {verdict}.")
    return out
