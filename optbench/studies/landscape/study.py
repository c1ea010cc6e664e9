"""The landscape study: its flags, the feature task of each problem next to the optimizer trials."""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from optbench.api import Budget, ConfigError, TrialResult, TrialSpec, freeze_params
from optbench.params import split_top_level
from optbench.studies.base import Payload, Study, payload, positive_int, task_result

if TYPE_CHECKING:
    from optbench.report.document import Figure

DEFAULT_PROBLEMS = ("onemax(n=64)", "leadingones(n=64)", "trap(n=40, k=4)", "nk(n=16, K=4)", "pow(k=10)",
                    "subsetsum(n=20)", "sphere(dim=10)", "ellipsoid(dim=10, cond=1e4)", "rosenbrock(dim=10)",
                    "rastrigin(dim=10)", "ackley(dim=10)", "linreg(n=500, d=30, cond=1e3)", "teacher(examples=128)")
QUICK_PROBLEMS = ("onemax(n=32)", "trap(n=20, k=4)", "nk(n=12, K=2)", "pow(k=8)", "sphere(dim=5)", "rastrigin(dim=5)")
OPTIMIZERS = ("ga", "cmaes", "random")
TRAINING_BUDGET = 500.0  # evaluations per trial on network problems, as in the default suite
FEATURE_BUDGET = 1e12  # the probes' evaluations are counted, not limited
POW_K, POW_K_QUICK = tuple(range(8, 25)), tuple(range(8, 17))  # difficulty bits of the blind-search scaling
BLIND_RUNS, BLIND_RUNS_QUICK = 5, 10  # runs per k (the cost is about 2 * runs * 2^max(k) evaluations)
SAMPLES, SAMPLES_QUICK = 5, 3  # independent feature samples per problem (seeds of every probe)
SCHEMA = 2  # of the payload: 2 adds feature intervals, the budget grid of the advantage scores, the pow scaling


class LandscapeStudy(Study):
    """Exploratory landscape analysis of problems, set against GA / CMA-ES / random-search results."""

    name = "landscape"
    summary = "landscape features (FDC, autocorrelation, information content...) next to optimizer results"
    question = ("For a black-box problem, can search beat blind guessing? Which landscape features (fitness-distance "
                "correlation, autocorrelation, information content, dispersion, local optima, neutrality) predict "
                "that GA or CMA-ES beat random search, and where does nothing?")
    default_problem = DEFAULT_PROBLEMS[0]
    default_optimizer = "random"
    default_seeds = 5
    quick_seeds = 3
    needs_network = False
    task_threads = 1  # probes evaluate small batches: threads only add OpenMP spin-waiting on a busy machine
    evaluate_optimizers: ClassVar[tuple[str, ...]] = OPTIMIZERS

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--problems", metavar="LIST", help="problems, comma-separated, e.g. 'onemax(n=64), "
                            "rastrigin(dim=10)' (default: a representative set; --quick: a small one)")
        parser.add_argument("--sample", type=int, metavar="N", help="uniform sample size per problem; walks, "
                            "neighbourhoods and local-search starts scale with it (default 1000; --quick 300)")
        parser.add_argument("--step", type=float, help="continuous random-walk step as a share of the box width "
                            "(default 0.01)")
        parser.add_argument("--budget", type=float, help="evaluations per optimizer trial (default 2000; --quick 1000; "
                            "training problems at most 500)")
        parser.add_argument("--from-run", type=int, metavar="ID", help="take the optimizer results from this "
                            "`optbench compare` run of the same store instead of running GA/CMA-ES/random")
        parser.add_argument("--samples", type=int, metavar="S", help="independent samples (probe seeds) per problem; "
                            f"each feature is their mean with a 95%% interval (default {SAMPLES}; --quick "
                            f"{SAMPLES_QUICK}; at least 2)")
        parser.add_argument("--pow-k", metavar="LIST", help="difficulty bits k of the blind-search scaling on "
                            f"pow(n=64, k) (default {POW_K[0]}..{POW_K[-1]}; --quick "
                            f"{POW_K_QUICK[0]}..{POW_K_QUICK[-1]}; 'none' to leave it out)")
        parser.add_argument("--blind-runs", type=int, metavar="R", help="blind-search runs per k (default "
                            f"{BLIND_RUNS}; --quick {BLIND_RUNS_QUICK})")

    # ------------------------------------------------------------------ tasks
    def _problems(self) -> list[str]:
        given = self.options.get("problems")
        if given is not None:
            problems = split_top_level(given)
            if not problems:
                raise ConfigError("--problems is empty; give e.g. --problems 'onemax(n=64), sphere(dim=10)'")
            return problems
        return list(QUICK_PROBLEMS if self.options.quick else DEFAULT_PROBLEMS)

    def _stored_trials(self) -> list[TrialSpec]:
        """The plain trials of the ``--from-run`` run (read from the store the study runs in)."""
        from optbench.store import Store

        run_id = positive_int(self.options.get("from_run"), "from_run")
        with Store(self.options.get("store_path", "reports/optbench.sqlite")) as store:
            specs = [r.spec for r in store.results(store.run_keys(run_id)) if not r.spec.task]
        if not specs:
            raise ConfigError(f"run {run_id} has no optimizer trials; give the id of an `optbench compare` run")
        return specs

    def tasks(self) -> list[TrialSpec]:
        from optbench.campaign.grid import Grid, build_specs
        from optbench.params import parse_call
        from optbench.registry import canonical_params, problem_class

        sample = positive_int(self.options.get("sample", 300 if self.options.quick else 1000), "sample", minimum=20,
                              maximum=100_000)
        step = self.options.get("step", 0.01)
        if not (isinstance(step, float) and 0 < step <= 1):
            raise ConfigError(f"--step must be a number in (0, 1], got {step!r}")
        budget = self.options.get("budget", 1000.0 if self.options.quick else 2000.0)
        if not (math.isfinite(budget) and budget >= 10):
            raise ConfigError(f"--budget must be a number of evaluations >= 10, got {budget!r}")
        if self.options.get("from_run") is not None:
            trials = self._stored_trials()
            texts = (self._problems() if self.options.get("problems") is not None
                     else list(dict.fromkeys(t.problem_label for t in trials)))
        else:
            texts = self._problems()
            training = {t: Budget(evaluations=min(budget, TRAINING_BUDGET)) for t in texts
                        if problem_class(parse_call(t)[0]).landscape == "training"}
            trials = build_specs(Grid(problems=texts, optimizers=list(self.evaluate_optimizers),
                                      seeds=list(range(self.options.seeds)), instances=[0],
                                      devices=[self.options.device], budget=Budget(evaluations=budget),
                                      budgets=training))
        samples = positive_int(self.options.get("samples", SAMPLES_QUICK if self.options.quick else SAMPLES),
                               "samples", minimum=2, maximum=1000)
        specs = []
        for text in texts:
            name, params = parse_call(text)
            canonical = freeze_params(canonical_params("problem", name, params))
            for seed in range(samples):  # independent probes: every feature gets an interval over them
                specs.append(TrialSpec(problem=name, problem_params=canonical, optimizer="random",
                                       budget=Budget(evaluations=FEATURE_BUDGET), seed=seed, device=self.options.device,
                                       task=self.name, task_params=freeze_params({
                                           "role": "features", "problem": text, "sample": sample, "seed": seed,
                                           "step": step})))
        wanted = {(s.problem, s.problem_params) for s in specs}
        return specs + [t for t in trials if (t.problem, t.problem_params) in wanted] + self._blind_specs()

    def _blind_specs(self) -> list[TrialSpec]:
        """Blind-search runs on pow(n=64, k) for each k: the round-robin over k keeps drift off the slope."""
        from optbench.studies.landscape.blind import CAP_FACTOR

        text = self.options.get("pow_k")
        quick = self.options.quick
        if text is not None and text.strip().lower() == "none":
            return []
        ks = POW_K_QUICK if quick else POW_K
        if text is not None:
            from optbench.studies.base import int_list

            ks = tuple(int_list(text, "pow-k", minimum=1))
            if ks[-1] > 40:
                raise ConfigError(f"--pow-k: k = {ks[-1]} needs about 2^{ks[-1]} hashes per run; use k <= 40")
        runs = positive_int(self.options.get("blind_runs", BLIND_RUNS_QUICK if quick else BLIND_RUNS), "blind_runs",
                            maximum=10_000)
        specs = []
        for run in range(runs):
            for k in ks:
                specs.append(TrialSpec(problem="pow", problem_params=freeze_params({"n": 64, "k": k}),
                                       optimizer="random",
                                       budget=Budget(evaluations=CAP_FACTOR * 2.0**k + 2**16), seed=run,
                                       device=self.options.device, task=self.name,
                                       task_params=freeze_params({"role": "blind", "k": k, "run": run})))
        return specs

    @classmethod
    def execute(cls, spec: TrialSpec) -> TrialResult:
        from optbench.evaluator import Evaluator
        from optbench.registry import make_problem
        from optbench.studies.landscape.probes import measure

        params = dict(spec.task_params)
        problem = make_problem(spec.problem, dict(spec.problem_params), instance=spec.instance, device=spec.device)
        evaluator = Evaluator(problem, spec.budget)
        start = time.perf_counter()
        if params.get("role") == "blind":
            from optbench.studies.landscape.blind import blind_run

            # one seed per (k, run): independent streams, so the runs at different k are independent too
            data = blind_run(problem, evaluator, seed=1_000_003 * int(params["run"]) + int(params["k"]))
            data |= {"role": "blind", "k": int(params["k"]), "run": int(params["run"]),
                     "expected": problem.blind_search_evaluations}
            return task_result(spec, seconds=time.perf_counter() - start, data=data,
                               evaluations=evaluator.evaluations, points=evaluator.points, problem_id=problem.id,
                               device_name=str(problem.device))
        data = measure(problem, evaluator, sample=int(params["sample"]), seed=int(params["seed"]),
                       step=float(params["step"]))
        data["problem"] = params["problem"]
        data["role"], data["seed"] = "features", int(params["seed"])
        data["evaluations"] = evaluator.evaluations
        return task_result(spec, seconds=time.perf_counter() - start, data=data, evaluations=evaluator.evaluations,
                           gradient_evaluations=evaluator.gradient_evaluations, points=evaluator.points,
                           examples=evaluator.examples, problem_id=problem.id, device_name=str(problem.device))

    # ------------------------------------------------------------------ analysis
    def analyze(self, results: Sequence[TrialResult]) -> Payload:
        from optbench.studies.landscape.analysis import analyze

        data, tables, findings, failed = analyze(results, name=self.name)
        out = payload(self.name, settings=self.settings(problems=[p["problem"] for p in data["problems"]],
                                                        from_run=self.options.get("from_run")),
                      tables=tables, findings=findings, data=data, failed=failed)
        out["schema"] = SCHEMA
        return out

    @classmethod
    def figures(cls, payload: Payload) -> list[Figure]:
        from optbench.studies.landscape.report import draw

        return draw(payload)
