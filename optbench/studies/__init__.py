"""``optbench study NAME``: experiments that answer the questions behind a comparison.

Each study is a grid of tasks (training runs, samples, timings) that run as trials of the same
runner, executors and store as ``optbench compare``, plus an analysis of their stored results.
The analysis is stored too (as a :class:`~optbench.studies.base.Payload`), so a report is redrawn
from the store without rerunning anything.

Studies register through the entry point groups ``optbench.studies`` (the command) and
``optbench.tasks`` (the runner), as a plugin's would, and are imported only when used.
"""
