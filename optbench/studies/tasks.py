"""Where the runner hands a study's task: ``run_trial`` calls :func:`run_study_task` for specs with ``study``."""

from __future__ import annotations

from optbench.api import TrialResult, TrialSpec
from optbench.studies.base import failed_result


def run_study_task(spec: TrialSpec) -> TrialResult:
    """Run one task of the study named by ``spec.study``; an exception becomes a FAILED result."""
    try:
        from optbench.studies import study_class

        cls = study_class(spec.study)
    except Exception:
        return failed_result(spec)
    threads = cls.task_threads if cls.task_threads is not None else (1 if cls.needs_network else None)
    try:
        from optbench.studies.training import torch_threads

        with torch_threads(threads):
            return cls.run_task(spec)
    except Exception:
        return failed_result(spec)

