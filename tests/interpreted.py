"""Rerunning a kernel test file under Triton's interpreter, how CI runs the Triton kernels without a GPU.

``TRITON_INTERPRET`` is read when a kernel is defined, so the interpreted checks need a process of
their own: a child pytest on the same file, outside pytest-xdist (whose worker variables would make the
child think it is a worker) and with no CUDA device visible, so the checks run on CPU tensors.
"""

from __future__ import annotations

import os
import subprocess
import sys

_PARENT_ONLY = ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID", "PYTEST_ADDOPTS")


def run_interpreted(test_file: str, *pytest_args: str, timeout: float = 1800) -> str:
    """Run ``test_file``'s selected tests with ``TRITON_INTERPRET=1``; every one must pass, none be skipped.

    Returns:
        The child's closing summary line (e.g. ``"40 passed, 42 deselected in 20.9s"``).
    """
    env = {key: value for key, value in os.environ.items() if key not in _PARENT_ONLY}
    env.update(TRITON_INTERPRET="1", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run([sys.executable, "-m", "pytest", test_file, "-q", "-x", "-p", "no:xdist", "-p",
                             "no:cacheprovider", *pytest_args], env=env, capture_output=True, text=True,
                            timeout=timeout, check=False)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert " passed" in summary and "skipped" not in summary, result.stdout[-3000:]
    return summary
