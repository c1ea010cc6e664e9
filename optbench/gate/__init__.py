"""The regression gate: is a run slower or worse than a reference?

- :mod:`optbench.gate.baseline`: a saved baseline (every trial, the machine fingerprint, a calibration time);
- :mod:`optbench.gate.check`: a candidate against a baseline, cell by cell, in quality and speed;
- :mod:`optbench.gate.history`: quality and speed across commits, with significant steps marked;
- :mod:`optbench.gate.against`: the same campaign on a git revision and on the working tree, interleaved.

The command-line side is :mod:`optbench.cli.check`, :mod:`optbench.cli.baseline` and :mod:`optbench.cli.history`.
"""
