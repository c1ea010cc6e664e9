"""One analysis per comparison, computed once and read by every renderer.

- :mod:`optbench.analysis.stats`: per-cell summaries over seeds (spread, success, ERT);
- :mod:`optbench.analysis.significance`: Mann–Whitney U per pair, Holm, ties with the best, win rates;
- :mod:`optbench.analysis.profiles`: ranks across problems, runtime ECDFs, Dolan–Moré and Moré–Wild profiles;
- :mod:`optbench.analysis.comparison`: :func:`analyze`, which computes all of them into one :class:`Comparison`.
"""

from optbench.analysis.comparison import Comparison, analyze

__all__ = ["Comparison", "analyze"]
