"""``optbench study landscape``: landscape features of each problem next to what optimizers achieve.

Each problem's features (:mod:`optbench.studies.probes`) are one task; the optimizer runs that
the features are compared with are plain trials of the same store, either those of an earlier
``optbench compare`` run (``--from-run ID``) or a small grid the study adds (GA, CMA-ES and
random search). The answer is a table and a plot of features against each optimizer's advantage
over random search (Vargha–Delaney A of the final gaps), with the rank correlations across problems.
"""

from __future__ import annotations

import argparse
import math
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, ClassVar

from optbench.api import Budget, ConfigError, TrialResult, TrialSpec, TrialState, freeze_params
from optbench.params import split_top_level
from optbench.studies.base import Figure, Payload, Study, Table, payload, positive_int, task_data, task_result

DEFAULT_PROBLEMS = ("onemax(n=64)", "leadingones(n=64)", "trap(n=40, k=4)", "nk(n=16, K=4)", "pow(k=10)",
                    "subsetsum(n=20)", "sphere(dim=10)", "ellipsoid(dim=10, cond=1e4)", "rosenbrock(dim=10)",
                    "rastrigin(dim=10)", "ackley(dim=10)", "linreg(n=500, d=30, cond=1e3)", "teacher(examples=128)")
QUICK_PROBLEMS = ("onemax(n=32)", "trap(n=20, k=4)", "nk(n=12, K=2)", "pow(k=8)", "sphere(dim=5)", "rastrigin(dim=5)")
OPTIMIZERS = ("ga", "cmaes", "random")
TRAINING_BUDGET = 500.0  # evaluations per trial on network problems, as in the default suite
FEATURE_BUDGET = 1e12  # the probes' evaluations are counted, not limited
# (payload key, column, getter) of the features the summary table and the plot show
FEATURES: tuple[tuple[str, str], ...] = (("fdc", "FDC"), ("rho1", "ρ(1)"), ("h_max", "H_max"),
                                         ("dispersion", "disp 5%"), ("optima_share", "local optima"),
                                         ("neutrality", "neutral"))


def _flat(features: dict[str, Any]) -> dict[str, Any]:
    """The summary features of one problem's stored data."""
    return {"fdc": features["fdc"], "rho1": features["rho"][0], "h_max": features["ic"]["h_max"],
            "dispersion": features["dispersion"]["ratio_mean_05"], "optima_share": features["local_search"]["share"],
            "neutrality": features["neutrality"]}


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
            specs = [r.spec for r in store.results(store.run_keys(run_id)) if not r.spec.study]
        if not specs:
            raise ConfigError(f"run {run_id} has no optimizer trials; give the id of an `optbench compare` run")
        return specs

    def tasks(self) -> list[TrialSpec]:
        from optbench.campaign import Grid, build_specs
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
        specs = []
        for text in texts:
            name, params = parse_call(text)
            canonical = freeze_params(canonical_params("problem", name, params))
            specs.append(TrialSpec(problem=name, problem_params=canonical, optimizer="random",
                                   budget=Budget(evaluations=FEATURE_BUDGET), seed=0, device=self.options.device,
                                   study=self.name, study_params=freeze_params({"problem": text, "sample": sample,
                                                                                "seed": 0, "step": step})))
        wanted = {(s.problem, s.problem_params) for s in specs}
        return specs + [t for t in trials if (t.problem, t.problem_params) in wanted]

    @classmethod
    def run_task(cls, spec: TrialSpec) -> TrialResult:
        from optbench.evaluator import Evaluator
        from optbench.registry import make_problem
        from optbench.studies.probes import measure

        params = dict(spec.study_params)
        problem = make_problem(spec.problem, dict(spec.problem_params), instance=spec.instance, device=spec.device)
        evaluator = Evaluator(problem, spec.budget)
        start = time.perf_counter()
        data = measure(problem, evaluator, sample=int(params["sample"]), seed=int(params["seed"]),
                       step=float(params["step"]))
        data["problem"] = params["problem"]
        data["evaluations"] = evaluator.evaluations
        return task_result(spec, seconds=time.perf_counter() - start, data=data, evaluations=evaluator.evaluations,
                           gradient_evaluations=evaluator.gradient_evaluations, points=evaluator.points,
                           examples=evaluator.examples, problem_id=problem.id, device_name=str(problem.device))

    # ------------------------------------------------------------------ analysis
    def analyze(self, results: Sequence[TrialResult]) -> Payload:
        from optbench.analysis.stats import expected_running_time
        from optbench.studies import features as ft

        feature_results = [r for r in results if r.spec.study == self.name]
        failed = sum(r.state is not TrialState.COMPLETE for r in feature_results)
        trials: dict[tuple, dict[str, list[TrialResult]]] = defaultdict(lambda: defaultdict(list))
        for r in results:
            if not r.spec.study and r.state.has_result and r.final_value is not None:
                trials[(r.spec.problem, r.spec.problem_params)][r.spec.optimizer].append(r)
        rows, details, problems = [], [], []
        for r in feature_results:
            if r.state is not TrialState.COMPLETE:
                continue
            f = task_data(r)
            runs = trials.get((r.spec.problem, r.spec.problem_params), {})
            score = {name: [x.gap if x.gap is not None else x.final_value for x in group]
                     for name, group in runs.items()}
            outcome: dict[str, dict[str, Any]] = {}
            for name, group in runs.items():
                ert = expected_running_time([x.evaluations for x in group], [x.hit_evaluations for x in group]) \
                    if group[0].optimal_value is not None else None
                blind = group[0].blind_search_evaluations
                outcome[name] = {"runs": len(group), "success": sum(x.success for x in group) / len(group),
                                 "ert": ert, "blind": blind, "median_score": sorted(score[name])[len(group) // 2],
                                 "vs_random": ft.vargha_delaney(score[name], score["random"])
                                 if "random" in score and name != "random" else None}
            reference = outcome.get("random", {}).get("ert")
            for o in outcome.values():
                bar = o["blind"] or (reference if reference is not None and math.isfinite(reference) else None)
                o["ratio"] = None if o["ert"] is None or not bar else o["ert"] / bar
                o["ratio_against"] = "blind search" if o["blind"] else ("random search" if bar else None)
            flat = _flat(f)
            problems.append({"problem": f["problem"], "features": f, "summary": flat, "optimizers": outcome})
            rows.append([f["problem"], f["space"], f["dim"], *(flat[k] for k, _ in FEATURES),
                         *(outcome.get(name, {}).get(key) for name, key in (
                             ("ga", "success"), ("cmaes", "success"), ("random", "success"), ("ga", "vs_random"),
                             ("cmaes", "vs_random"), ("ga", "ratio"), ("cmaes", "ratio")))])
            gen = f.get("generalization") or {}
            details.append([f["problem"], f["correlation_length"], f["ic"]["m0"], f["ic"]["eps_s"],
                            f["ic"]["eps_ratio"], f["skewness"], f["kurtosis"], f["local_search"]["distinct"],
                            f["local_search"]["starts"], f["local_search"].get("converged"), gen.get("gap"),
                            f["evaluations"]])
        correlations = {opt: {key: ft.spearman([p["summary"][key] for p in problems],
                                               [p["optimizers"].get(opt, {}).get("vs_random") for p in problems])
                              for key, _ in FEATURES} for opt in ("ga", "cmaes")}
        main = Table("Landscape features next to what the optimizers achieved", [
            "problem", "space", "d", *(c for _, c in FEATURES), "GA ok", "CMA-ES ok", "random ok", "GA A vs random",
            "CMA-ES A vs random", "GA ÷ blind", "CMA-ES ÷ blind"], rows, notes=[
            "FDC: fitness-distance correlation (1 = closer is better, < 0 deceptive); ρ(1): random-walk "
            "autocorrelation at one step; H_max: maximal information content; disp 5%: mean distance among the best 5% "
            "over that of the whole sample (< 1: good points cluster); local optima: distinct local-search ends per "
            "start; neutral: share of equal-valued one-flip neighbours.",
            "ok: share of runs that reached the problem's target; A vs random: Vargha-Delaney A of the final gaps "
            "(0.5 = no better than random search, 1 = every run better); ÷ blind: expected running time over the "
            "problem's blind-search cost, or over random search's own where the problem has none."])
        detail = Table("More features", ["problem", "corr. length", "M0", "log10 eps_s", "log10 eps_ratio", "skewness",
                                         "kurtosis", "distinct ends", "starts", "converged", "train-test gap",
                                         "evaluations"],
                       details, notes=["corr. length: -1/ln|ρ(1)| in walk steps; M0: partial information content; "
                                       "converged: share of local searches that stopped at a local optimum "
                                       "(L-BFGS-B within 200 iterations; unconverged ends inflate 'distinct ends'); "
                                       "train-test gap: held-out minus training metric of local-search solutions "
                                       "(network problems only)."])
        return payload(self.name, settings=self.settings(problems=[p["problem"] for p in problems],
                                                         from_run=self.options.get("from_run")),
                       tables=[main, detail], findings=self._findings(problems, correlations),
                       data={"problems": problems, "correlations": correlations,
                             "features": [k for k, _ in FEATURES]}, failed=failed)

    @staticmethod
    def _findings(problems: list[dict[str, Any]], correlations: dict[str, dict[str, float | None]]) -> list[str]:
        labels = dict(FEATURES)
        out = []
        for opt, label in (("ga", "GA"), ("cmaes", "CMA-ES")):
            known = {k: v for k, v in correlations[opt].items() if v is not None}
            if known:
                key = max(known, key=lambda k: abs(known[k]))
                n = sum(p["optimizers"].get(opt, {}).get("vs_random") is not None for p in problems)
                out.append(f"Across {n} problems, the feature that best ranks {label}'s advantage over random search "
                           f"is {labels[key]} (Spearman {known[key]:+.2f}).")
        blind = [p["problem"] for p in problems
                 if all((p["optimizers"].get(o, {}).get("vs_random") or 0.5) <= 0.6 for o in ("ga", "cmaes"))
                 and any(p["optimizers"].get(o, {}).get("vs_random") is not None for o in ("ga", "cmaes"))]
        if blind:
            out.append("Neither GA nor CMA-ES clearly beat random search (A <= 0.6) on: " + ", ".join(blind) + ".")
        flat = [p["problem"] for p in problems
                if p["summary"]["rho1"] is not None and abs(p["summary"]["rho1"]) < 3 / math.sqrt(
                    p["features"]["walks"] * p["features"]["walk_length"])]
        if flat:
            out.append("No locality at all (ρ(1) within 3/sqrt(walk points) of 0): " + ", ".join(flat) + ".")
        return out

    @classmethod
    def figures(cls, payload: Payload) -> list[Figure]:
        import io

        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        problems = payload["data"]["problems"]
        if not problems:
            return []
        fig, axes = plt.subplots(2, 3, figsize=(11, 6.5), sharey=True)
        for ax, (key, label) in zip(axes.flat, FEATURES, strict=True):
            for opt, marker, colour in (("ga", "o", "tab:blue"), ("cmaes", "^", "tab:orange")):
                pts = [(p["summary"][key], p["optimizers"][opt]["vs_random"], p["problem"]) for p in problems
                       if p["summary"][key] is not None and p["optimizers"].get(opt, {}).get("vs_random") is not None]
                if pts:
                    ax.scatter([x for x, _, _ in pts], [y for _, y, _ in pts], marker=marker, color=colour, alpha=0.8,
                               label={"ga": "GA", "cmaes": "CMA-ES"}[opt])
                    for x, y, name in pts:
                        ax.annotate(name.split("(")[0], (x, y), fontsize=6, alpha=0.7, xytext=(2, 2),
                                    textcoords="offset points")
            ax.axhline(0.5, color="grey", lw=0.8, ls="--")
            ax.set_xlabel(label)
            ax.set_ylim(-0.05, 1.05)
        for ax in axes[:, 0]:
            ax.set_ylabel("A vs random search")
        axes.flat[0].legend(fontsize=8, loc="lower right")
        fig.suptitle("Landscape features against the advantage over random search (0.5 = none)", fontsize=10)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80)
        plt.close(fig)
        return [Figure("landscape-features.png", "Each feature against GA's and CMA-ES's Vargha-Delaney A over "
                       "random search (one point per problem)", buffer.getvalue())]
