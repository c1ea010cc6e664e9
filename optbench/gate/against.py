"""``optbench check --against REV``: the same campaign on another git revision and on the working tree.

The revision is checked out into a temporary ``git worktree`` (removed afterwards). Each side gets its own
long-lived worker process whose current folder is the matching spot of its tree and whose import path
starts with that tree (and its ``src/``), so the user's plugins — ``--plugin`` files inside the repository,
modules, entry points of a package developed there — are imported from that side's code. optbench itself
is imported before the tree joins the path, so both sides measure with the same harness.

Trials run one at a time, alternating sides (ABBA: A B, B A, A B, …), on the same machine, so a load
change on the machine hits both sides alike; the difference is then judged with ``optbench check``'s tests.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from optbench.api import ConfigError, TrialResult, TrialSpec, TrialState

log = logging.getLogger(__name__)


def _git(root: Path | str, *args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    except OSError:
        raise ConfigError("--against needs git on the PATH") from None
    if done.returncode:
        raise subprocess.CalledProcessError(done.returncode, args, done.stdout, done.stderr)
    return done.stdout.strip()


def repo_root(cwd: str | Path = ".") -> Path:
    """The top folder of the git repository around ``cwd``; :class:`ConfigError` outside one."""
    try:
        return Path(_git(cwd, "rev-parse", "--show-toplevel")).resolve()
    except subprocess.CalledProcessError:
        raise ConfigError(f"--against compares git revisions, but {Path(cwd).resolve()} is not inside a git "
                          "repository; run it from your project's checkout") from None


def revision(root: Path, rev: str) -> dict[str, Any]:
    """The commit ``rev`` names, as :func:`optbench.history.git_state` describes one (never dirty)."""
    try:
        sha = _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
        stamp, subject = _git(root, "log", "-1", "--format=%ct%x00%s", sha).split("\x00", 1)
        depth = int(_git(root, "rev-list", "--count", sha))
    except subprocess.CalledProcessError:
        raise ConfigError(f"--against {rev}: no such commit in {root}; pass a branch, tag or sha, e.g. "
                          "--against HEAD~1 or --against origin/main") from None
    return {"commit": sha, "time": int(stamp), "depth": depth, "subject": subject, "branch": rev, "dirty": False}


@contextmanager
def worktree(root: Path, sha: str) -> Iterator[Path]:
    """A detached checkout of ``sha`` in a temporary folder, removed (and pruned) on exit."""
    parent = Path(tempfile.mkdtemp(prefix="optbench-against-"))
    tree = parent / "tree"
    try:
        _git(root, "worktree", "add", "--detach", "--quiet", str(tree), sha)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(parent, ignore_errors=True)
        raise ConfigError(f"git worktree add failed: {(exc.stderr or '').strip().splitlines()[-1:]}") from None
    try:
        yield tree
    finally:
        try:
            _git(root, "worktree", "remove", "--force", str(tree))
        except subprocess.CalledProcessError:
            log.warning("could not remove the worktree %s; `git worktree prune` cleans it up", tree)
        shutil.rmtree(parent, ignore_errors=True)
        with suppress(subprocess.CalledProcessError):
            _git(root, "worktree", "prune")


def rerooted(plugins: Sequence[str], root: Path, tree: Path) -> list[str]:
    """Plugin files inside the repository, pointed at the same file in ``tree``; modules stay names."""
    out = []
    for spec in plugins:
        path = Path(spec)
        if spec.endswith(".py") or path.exists():
            absolute = path.resolve()
            try:
                out.append(str(tree / absolute.relative_to(root)))
            except ValueError:  # outside the repository: the same file for both sides
                out.append(str(absolute))
        else:
            out.append(spec)
    return out


class Side:
    """A worker process running trials with one tree's plugins: specs in, results out, one JSON line each."""

    def __init__(self, name: str, tree: Path, cwd: Path, plugins: Sequence[str]) -> None:
        self.name = name
        paths = [str(tree)] + ([str(tree / "src")] if (tree / "src").is_dir() else [])
        # -P: the worker's folder does not shadow the installed optbench (an optbench checkout stays data)
        self._args = [sys.executable, "-P", "-m", "optbench.gate.against", json.dumps(paths), *plugins]
        self._cwd = cwd if cwd.is_dir() else tree
        self._process: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(self._args, cwd=self._cwd, stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, text=True, bufsize=1)
        return self._process

    def run(self, spec: TrialSpec) -> TrialResult:
        process = self._start()
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(json.dumps(spec.to_json()) + "\n")
            process.stdin.flush()
            line = process.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        if not line:
            code = process.wait()
            self._process = None
            return TrialResult(spec=spec, state=TrialState.CRASHED,
                               reason=f"the {self.name} worker died (exit code {code})")
        data = json.loads(line)
        if "error" in data:
            self.close()
            raise ConfigError(f"{self.name}: {data['error']}")
        return TrialResult.from_json(data)

    def close(self) -> None:
        if self._process is not None:
            if self._process.stdin:
                self._process.stdin.close()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stdout:
                self._process.stdout.close()
            self._process = None


def interleaved(specs: Sequence[TrialSpec], first: Side, second: Side, *,
                on_result: Callable[[str, TrialResult], None] | None = None
                ) -> tuple[list[TrialResult], list[TrialResult]]:
    """Every spec on both sides, alternating which side goes first (ABBA); results per side."""
    out: dict[str, list[TrialResult]] = {first.name: [], second.name: []}
    try:
        for i, spec in enumerate(specs):
            for side in (first, second) if i % 2 == 0 else (second, first):
                result = side.run(spec)
                out[side.name].append(result)
                if on_result is not None:
                    on_result(side.name, result)
    finally:
        first.close()
        second.close()
    return out[first.name], out[second.name]


def serve(paths: Sequence[str], plugins: Sequence[str], stdin: IO[str], out: IO[str]) -> None:
    """The worker loop: put ``paths`` first on the import path, load ``plugins``, run each spec line."""
    from optbench.runners.worker import prepare, run_encoded

    sys.path[:0] = list(paths)
    try:
        prepare(plugins, None)
    except Exception as exc:  # one line back to the coordinator, which stops with it
        out.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
        out.flush()
        return
    for line in stdin:
        if line.strip():
            out.write(run_encoded(line).decode() + "\n")
            out.flush()


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # the protocol owns the real stdout; anything a plugin prints goes to stderr instead
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(json.loads(args[0]), args[1:], sys.stdin, protocol)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
