"""``optbench dashboard``: a live, read-only web view of one store (the ``optbench[dashboard]`` extra).

:mod:`~optbench.dashboard.readonly` opens the store for reading only, :mod:`~optbench.dashboard.data`
builds each page's JSON from the same analysis, summary and gate code as the command line,
:mod:`~optbench.dashboard.series` turns the analysis into plot series, :mod:`~optbench.dashboard.app`
is the Starlette application and :mod:`~optbench.dashboard.server` serves it with uvicorn.
Nothing is imported here: the command line's ``--help`` stays light.
"""
