"""Renderers only: every output of a comparison, drawn from its one :class:`~optbench.analysis.Comparison`.

:func:`optbench.analysis.analyze` computes the statistics once; the modules here read that object and
compute none of their own:

- :mod:`~optbench.report.terminal`: the rich tables of ``optbench compare`` (problems, leaderboard, failures);
- :mod:`~optbench.report.export`: the JSON, CSV and Markdown summaries (``--format``);
- :mod:`~optbench.report.document`: the self-contained HTML report and ``summary.md`` (``--report``, ``report``);
- :mod:`~optbench.report.plots` and :mod:`~optbench.report.morewild`: the figures and the Moré–Wild outputs;
- :mod:`~optbench.report.jsonout`: the one JSON encoder (its policy for non-finite numbers);
- :mod:`~optbench.report.coco_export`, :mod:`~optbench.report.ioh_export`, :mod:`~optbench.report.reference`:
  COCO and IOHanalyzer data sets, and a run next to one;
- :mod:`~optbench.report.check`, :mod:`~optbench.report.history`, :mod:`~optbench.report.listing`: the tables
  of ``optbench check``, ``history`` and ``list``.
"""
