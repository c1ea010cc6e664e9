"""
A first comparison, and how to read it
======================================

Which of CMA-ES, a genetic algorithm and random search should you use on a smooth and on a rugged
problem, and how sure can you be? This tutorial runs the comparison from Python, prints the tables
``optbench compare`` prints, and reads the numbers behind them.
"""

# %%
# Run the comparison
# ------------------
# Six seeds is the fewest with which Holm-corrected tests can separate six optimizers; three need fewer,
# but more seeds make the intervals narrower. Each trial gets 1,000 evaluations. The store is a SQLite
# file: every trial is written as it finishes, and rerunning the same call runs only what is missing.
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from rich.console import Console

import optbench

workdir = Path(tempfile.mkdtemp(prefix="optbench-tutorial-"))
store = workdir / "first.sqlite"
result = optbench.compare(problems=["sphere(dim=5)", "rastrigin(dim=5)"], optimizers=["cmaes", "ga", "random"],
                          seeds=6, budget=1000, device="cpu", store=str(store))
print(result.counts)
result.print(Console(width=110))  # the tables `optbench compare` prints

# %%
# Reading a table
# ---------------
# Each problem's table is sorted best first by the median final **gap** (objective minus the known
# optimum) over the seeds, with its interquartile range. ``≈`` marks optimizers that a Holm-corrected
# Mann-Whitney U test cannot tell apart from the best at α = 0.05: with six seeds a tie means the data
# do not separate them, not that they are equal. **success** counts the seeds that reached the problem's
# target gap, and **ERT** (COCO's expected running time) divides the evaluations of all seeds, counted up
# to the first hit, by the number of hits.
#
# The same numbers are in the analysis object every renderer reads:
for cell in result.analysis.cells:
    print(f"{cell.problem:>18} {cell.optimizer:>7}  median gap {cell.gap.median:9.3g}  "
          f"IQR [{cell.gap.q1:.3g}, {cell.gap.q3:.3g}]  successes {cell.successes}/{cell.with_result}")

# %%
# Convergence over evaluations
# ----------------------------
# Every trial keeps an anytime trace: ``(evaluations, seconds, best value so far)`` at each improvement.
# The median over seeds of the best-so-far gap shows *when* an optimizer gets ahead, which the final
# table cannot.
records = result.records()
fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=False)
grid = np.unique(np.geomspace(1, 1000, 60).round())
for ax, problem in zip(axes, ["sphere", "rastrigin"], strict=True):
    for optimizer in ["cmaes", "ga", "random"]:
        curves = []
        for rec in records:
            if rec["spec"]["problem"] != problem or rec["spec"]["optimizer"] != optimizer:
                continue
            trace = np.asarray(rec["trace"], dtype=float)
            index = np.searchsorted(trace[:, 0], grid, side="right") - 1
            curves.append(np.where(index >= 0, trace[np.maximum(index, 0), 2], np.nan) - rec["optimal_value"])
        ax.plot(grid, np.nanmedian(np.array(curves), axis=0), label=optimizer)
    ax.set(xscale="log", yscale="log", title=problem, xlabel="evaluations", ylabel="median best gap")
axes[0].legend()
fig.tight_layout()

# %%
# The same run from the command line
# ----------------------------------
# The command line is a layer over this API. The store above can be reported again without running
# anything (``optbench report --store first.sqlite``), and the same comparison is
#
# .. code-block:: bash
#
#     optbench compare --problems "sphere(dim=5),rastrigin(dim=5)" --optimizers "cmaes,ga,random" \
#                      --seeds 6 --budget 1000 --device cpu --store first.sqlite
#
# Every column of the terminal table is explained in :doc:`/explanation/reading-tables`, the statistics
# in :doc:`/explanation/statistics`.
