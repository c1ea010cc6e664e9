"""``optbench study landscape``: landscape features of each problem next to what optimizers achieve.

Each problem's features (:mod:`optbench.studies.landscape.probes`) are one task; the optimizer runs that
the features are compared with are plain trials of the same store, either those of an earlier
``optbench compare`` run (``--from-run ID``) or a small grid the study adds (GA, CMA-ES and
random search). The answer is a table and a plot of features against each optimizer's advantage
over random search (Vargha–Delaney A of the final gaps), with the rank correlations across problems.
"""
