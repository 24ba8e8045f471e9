"""Measure how far two identical asynchronous parameter-server jobs land apart (not a speed test).

    python -m benchmarks.ps_spread [--experiment mnist|mnist_gan] [--jobs 5] [--steps 2000]

`reproml reproduce` compares a re-run of an async parameter-server job metric by metric within
the tolerances the experiment declares (``ASYNC_TOLERANCES`` in ``experiments/mnist.py`` and
``experiments/mnist_gan.py``, recorded with each run). This script is where those numbers come
from: it runs the real experiment (``experiments.mnist`` or ``experiments.mnist_gan``, on the
``quick`` records: 256 train and 256 test digits of the fallback dataset) `--jobs` times as the
same job (2 workers + 1 ps, the same seed and config), and, for scale, as many one-process runs
with different seeds (the seed-to-seed spread: a re-run of an async job must not be held to
less than timing noise, and a tolerance wider than seed noise could not tell a changed
experiment from a faithful re-run). For every final eval metric it reports the largest pairwise
difference, absolute and relative, among the async jobs and among the seeds, and merges them
into the JSON (``configs["<experiment> quick steps=<N>"]``).
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _records(tmp: Path) -> tuple[str, dict[str, str]]:
    """Write the quick config's records once (digits fallback) and return them with the env."""
    from tests.cluster.jobs import task_env, write_quick_records

    (tmp / "empty-cache").mkdir()
    env = task_env(tmp / "empty-cache")
    return write_quick_records(tmp / "records", env), env


def _final_eval_metrics(run_dir: Path) -> dict[str, float]:
    from reproml.runs.reproducibility import final_metrics

    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {k: v for k, v in final_metrics(metrics).items() if k.startswith("eval.")}


def _run(command: list[str], env: dict, runs_dir: Path, workers: int, ps: int) -> dict:
    """One job (``workers`` 0: one process) recorded in `runs_dir`; its final eval metrics."""
    import subprocess

    from reproml.cluster.launcher import launch

    env = {**env, "REPROML_RUNS_DIR": str(runs_dir)}
    if workers:
        out = io.StringIO()
        code = launch(command, workers, ps, timeout=900, env=env, out=out)
        if code != 0:
            raise RuntimeError(f"job failed ({code}):\n{out.getvalue()[-4000:]}")
    else:
        subprocess.run(command, env=env, check=True, capture_output=True)
    runs = sorted((p for p in runs_dir.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    return _final_eval_metrics(runs[-1])


def spread(results: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per metric: the largest pairwise absolute and relative difference, and the range."""
    out = {}
    for name in sorted(results[0]):
        values = [r[name] for r in results if name in r]
        pairs = list(itertools.combinations(values, 2))
        out[name] = {
            "min": min(values),
            "max": max(values),
            "max_abs_diff": max(abs(a - b) for a, b in pairs),
            "max_rel_diff": max(
                abs(a - b) / max(abs(a), abs(b)) if max(abs(a), abs(b)) else 0.0 for a, b in pairs
            ),
        }
    return out


# Per experiment: the config of every job besides steps / seed (on the quick records).
EXPERIMENTS = {
    "mnist": ["log_every=50"],
    # The GAN's scores come from the fixed evaluator (trained once, by the first job's chief).
    "mnist_gan": ["log_every=50", "evaluator_steps=300", "num_fid_samples=256"],
}


def main(argv: list[str] | None = None) -> None:
    """Run the jobs, print a table per config and merge them into the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", choices=sorted(EXPERIMENTS), default="mnist")
    parser.add_argument("--jobs", type=int, default=5)
    parser.add_argument("--steps", default="2000", help="comma-separated training lengths")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "ps_spread.json"))
    args = parser.parse_args(argv)
    from tqdm import tqdm

    out = Path(args.out)
    report: dict = json.loads(out.read_text()) if out.exists() else {"configs": {}}
    report["jobs"] = args.jobs
    module = f"experiments.{args.experiment}"
    with tempfile.TemporaryDirectory(prefix="reproml-ps-spread-") as tmp:
        records, env = _records(Path(tmp))
        env["REPROML_EVALUATOR_DIR"] = str(Path(tmp) / "evaluators")
        for steps in (int(s) for s in args.steps.split(",")):
            config = [
                "with", "quick", f"dataset.data_dir={records}", f"steps={steps}",
                f"eval_every={max(steps // 2, 1)}", *EXPERIMENTS[args.experiment],
            ]  # fmt: skip
            base = [sys.executable, "-m", module, *config]
            ps_runs, seed_runs = [], []
            bar = tqdm(total=2 * args.jobs, desc=f"{args.experiment} steps={steps}", unit="job")
            for i in range(args.jobs):
                runs = Path(tmp) / f"ps-{steps}-{i}"
                ps_runs.append(_run([*base, "seed=42"], env, runs, workers=2, ps=1))
                bar.update()
                runs = Path(tmp) / f"seed-{steps}-{i}"
                seed_runs.append(_run([*base, f"seed={42 + i}"], env, runs, workers=0, ps=0))
                bar.update()
            bar.close()
            key = f"{args.experiment} quick steps={steps}"
            report["configs"][key] = {
                "command": " ".join(["python", "-m", module, *config]).replace(
                    records, "<quick records>"
                ),
                "async_ps_same_seed": spread(ps_runs),
                "one_process_other_seeds": spread(seed_runs),
                "raw": {"async_ps_same_seed": ps_runs, "one_process_other_seeds": seed_runs},
            }
            for kind in ("async_ps_same_seed", "one_process_other_seeds"):
                print(f"\n{key}, {kind}: metric  max|diff|  max rel diff")
                for name, s in report["configs"][key][kind].items():
                    print(f"  {name:32s} {s['max_abs_diff']:.4f}  {s['max_rel_diff']:.3f}")
    out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(f"\nwritten: {out}")


if __name__ == "__main__":
    main()
