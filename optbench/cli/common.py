"""What every subcommand shares: the one-line parser, argument types, defaults and option groups.

Light on purpose: every subcommand's module imports this to build ``optbench --help``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, NoReturn

from optbench.api import DTYPES, ConfigError

DEFAULT_STORE = "reports/optbench.sqlite"
DEFAULT_CHECK_STORE = "reports/check.sqlite"
DEFAULT_HISTORY = "reports/history.jsonl"
MAX_SEEDS = 10_000  # seeds (or instances) of one campaign; more is a typo, and would not fit in memory
MAX_STUDY_SEEDS = 1000  # seeds per setting of a study: each is a training run or a sample
REPORT_DEFAULT = "default: run-<id> beside the store file, so reports/run-<id> for the default --store"
PLUGIN_HELP = "load problems/optimizers from a .py file or module (also $OPTBENCH_PLUGINS)"


class Parser(argparse.ArgumentParser):
    """argparse that reports a mistake as one line (and exit code 2) instead of usage + error."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message} (see `{self.prog} --help`)")


def seeds(text: str) -> list[int]:
    """``5`` means seeds 0..4; ``0,3,7`` means exactly those (at most :data:`MAX_SEEDS` of them)."""
    parts = text.split(",")
    if len(parts) > MAX_SEEDS + 1:  # before converting: a huge list is refused without being built
        raise argparse.ArgumentTypeError(f"expected at most {MAX_SEEDS} values, got a list of {len(parts)}")
    try:
        values = [int(part) for part in parts if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a count like 5 or a list like 0,3,7, got {text!r}") from None
    if len(values) == 1 and "," not in text:
        if not 1 <= values[0] <= MAX_SEEDS:
            raise argparse.ArgumentTypeError(f"expected a count from 1 to {MAX_SEEDS} or a list of integers >= 0, "
                                             f"got {values[0]}")
        return list(range(values[0]))
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected integers >= 0 in the list, got {text!r}")
    if len(values) > MAX_SEEDS or any(v >= 2**63 for v in values):  # the store keeps them as 64-bit integers
        raise argparse.ArgumentTypeError(f"expected at most {MAX_SEEDS} integers below 2**63, got {text!r}")
    return values


def positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def integer(text: str, minimum: int, maximum: int | None = None) -> int:
    """An integer in ``[minimum, maximum]`` (no upper end when ``maximum`` is None)."""
    wanted = f"an integer >= {minimum}" if maximum is None else f"an integer from {minimum} to {maximum}"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
    return value


def count(text: str) -> int:
    return integer(text, 1)


def count0(text: str) -> int:
    return integer(text, 0)


def study_seeds(text: str) -> int:
    """Seeds per setting of a study: 1 to :data:`MAX_STUDY_SEEDS`."""
    try:
        int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    return integer(text, 1, MAX_STUDY_SEEDS)


def probability(text: str) -> float:
    value = positive(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}")
    return value


def dtype(text: str) -> str:
    """``float32`` or ``float64`` (:data:`optbench.api.DTYPES`)."""
    if text not in DTYPES:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(DTYPES)}, got {text!r}")
    return text


def taus(text: str) -> list[float]:
    """Moré–Wild tolerances: ``1e-1,1e-3``, each strictly between 0 and 1."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected tolerances like 1e-1,1e-3, got {text!r}") from None
    if not values or not all(0 < v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected tolerances between 0 and 1 like 1e-1,1e-3, got {text!r}")
    return values


def plugin_parent() -> Parser:
    """The ``--plugin`` option, as a parent parser for the subcommands that load plugins."""
    common = Parser(add_help=False)
    common.add_argument("--plugin", action="append", metavar="FILE_OR_MODULE", help=PLUGIN_HELP)
    return common


def add_run(parser: argparse.ArgumentParser, *, help: str) -> None:
    """The run id, positional (``report 3``) or as ``--run 3`` (as ``check --run`` takes it)."""
    parser.add_argument("run", nargs="?", type=int, help=help)
    parser.add_argument("--run", type=int, dest="run_option", metavar="RUN", help="the same, as an option")


def chosen_run(args: argparse.Namespace) -> int | None:
    """The run id given either way; both given and different is a mistake."""
    given, option = args.run, getattr(args, "run_option", None)
    if given is not None and option is not None and given != option:
        raise ConfigError(f"two run ids given ({given} and --run {option}); give one")
    return option if option is not None else given


def add_store(parser: argparse.ArgumentParser, *, default: str = DEFAULT_STORE, help: str | None = None) -> None:
    parser.add_argument("--store", default=default, help=help or f"SQLite results file (default: {default})")


def add_taus(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tau", type=taus, metavar="LIST",
                        help="tolerances of the Moré–Wild profiles (default: 1e-1,1e-3,1e-5,1e-7)")


def add_gate_options(parser: argparse.ArgumentParser, *, min_time_help: str) -> None:
    """The tests of the regression gate, shared by ``check`` and ``history``."""
    parser.add_argument("--alpha", type=probability, default=0.05, help="significance level after Holm (0.05)")
    parser.add_argument("--min-effect", type=positive, default=0.1,
                        help="smallest relative worsening of the median gap that counts (0.1 = 10%%)")
    parser.add_argument("--tolerance", type=positive, default=0.1,
                        help="time ratio above 1 + this counts as slower, when its whole 95%% CI is (0.1)")
    parser.add_argument("--min-time", type=positive, default=0.01, metavar="SECONDS", help=min_time_help)


def add_history(parser: argparse.ArgumentParser, *, what: str) -> None:
    parser.add_argument("--history", nargs="?", const=DEFAULT_HISTORY, metavar="FILE",
                        help=f"also append {what} to a history of commits (default file: {DEFAULT_HISTORY})")


def gate_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The gate's tests as keyword arguments of :func:`optbench.gate.check.check` and the history."""
    return {"alpha": args.alpha, "min_effect": args.min_effect, "tolerance": args.tolerance, "min_time": args.min_time}


def check_store_file(store: str) -> None:
    """``store`` must be an existing store file (not a folder) for a command that reads a run."""
    if Path(store).is_dir():
        raise ConfigError(f"{store} is a folder; pass the store file, e.g. --store {store}/optbench.sqlite")
    if not Path(store).is_file():
        raise ConfigError(f"no store at {store}; run `optbench compare` first or pass --store FILE")


def stderr() -> Any:
    """The console every status line goes to (stderr, no markup or highlighting)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def say(text: str) -> None:
    """One status line on stderr, as written (no markup), wrapped by the terminal rather than cut."""
    stderr().print(text, markup=False, soft_wrap=True)
