"""Tuning rulesets: a verdict at the tuning effort a user can afford.

- :mod:`optbench.tuning.space`: search spaces (each optimizer declares one; ``--space`` overrides it);
- :mod:`optbench.tuning.rulesets`: ``none``, ``random:K``, ``optuna:SAMPLER:K``, ``self:K`` and the quasi-random draws;
- :mod:`optbench.tuning.task`: the tuning trial, scored on a validation signal, never on the test metric;
- :mod:`optbench.tuning.plan` and :mod:`optbench.tuning.campaign`: the trials a ruleset runs, in phases;
- :mod:`optbench.tuning.expected`: the expected best validation score after ``k`` trials, and sensitivity;
- :mod:`optbench.tuning.analysis`: what the tables, plots and JSON show.

Importing the package imports none of them.
"""
