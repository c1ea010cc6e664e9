"""
A study: how much do seeds matter?
==================================

``optbench compare`` says which optimizer wins; ``optbench study`` answers the questions behind a verdict.
This tutorial runs the ``seeds`` study in its quick setting: the same network trained on MNIST-1D (generated
locally by the ``mnist1d`` package, never downloaded) with only the initialization, only the data order, both
or nothing varied, and reads its tables, findings and figures.
"""

# %%
# Run it
# ------
# Every training run is a stored trial, so the study resumes after a kill and runs in parallel with
# ``jobs=``; its analysis is stored with the run, and ``optbench report`` redraws it.
import io
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

import optbench
from optbench.registry import study_class

store = Path(tempfile.mkdtemp(prefix="optbench-study-")) / "study.sqlite"
study = optbench.study("seeds", quick=True, store=str(store))
print(study.to_markdown())

# %%
# What it found
# -------------
# Each finding is a sentence computed from the numbers above, never written by hand; the intervals are
# chi-square intervals of standard deviations (coverage measured by simulation), and the test set's own
# binomial noise is shown next to every seed spread.
for finding in study.findings:
    print("-", finding)

# %%
# Its figures
# -----------
# The study draws its figures from the stored payload alone.
for figure in study_class("seeds").figures(study.payload):
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.imshow(plt.imread(io.BytesIO(figure.png)))
    ax.set_axis_off()
    ax.set_title(figure.caption, fontsize=8, wrap=True)

# %%
# The defaults (30 seeds, a crossed design of initializations × data orders) take minutes; the method and
# the published results it is set against are in :doc:`/explanation/studies/seeds`.
