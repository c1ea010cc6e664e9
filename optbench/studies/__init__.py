"""``optbench study NAME``: experiments that answer the questions behind a comparison.

Each study is a grid of tasks (training runs, samples, timings) that run as trials of the same
runner, executors and store as ``optbench compare``, plus an analysis of their stored results.
The analysis is stored too (as a :class:`~optbench.studies.base.Payload`), so a report is redrawn
from the store without rerunning anything.

One subpackage per study (``seeds``, ``connectivity``, ``lottery``, ``landscape``, ``crossover``),
each with its ``study`` (the :class:`~optbench.studies.base.Study`: flags, tasks, analysis), its
``analysis`` and its ``report`` (figures), on a shared core: :mod:`~optbench.studies.base` (the
contract), :mod:`~optbench.studies.training` (seeded training runs), :mod:`~optbench.studies.measures`
(spread and agreement), :mod:`~optbench.studies.paths` (loss barriers) and
:mod:`~optbench.studies.render` (a payload's tables, JSON and HTML).

Studies register through the entry point groups ``optbench.studies`` (the command) and
``optbench.tasks`` (the runner), as a plugin's would, and are imported only when used.
"""
