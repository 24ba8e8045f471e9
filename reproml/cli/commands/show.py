"""`reproml show RUN`: config, dataset fingerprint, commit (+dirty), final metrics, artifacts."""

from __future__ import annotations

import argparse

from reproml.cli.table import format_duration, format_time, render_pairs, render_table
from reproml.runs.record import RunRecord, flatten_config
from reproml.runs.stores import open_store


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `show`."""
    parser = subparsers.add_parser("show", help="everything recorded about one run")
    parser.add_argument("run_id", metavar="RUN", help="run id")
    parser.set_defaults(func=run)


def _metrics_table(run: RunRecord) -> str:
    rows = [(name, value, step) for name, (step, value) in run.final_metrics().items()]
    if not rows:
        return "  -"
    return "\n".join(
        "  " + line for line in render_table(("metric", "last", "step"), rows).splitlines()
    )


def describe(run: RunRecord) -> str:
    """Return the text `show` prints for `run`."""
    host = run.raw.get("host") or {}
    header = [
        ("experiment", run.experiment),
        ("status", run.shown_status),
        ("command", run.raw.get("command")),
        ("host", host.get("hostname")),
        ("start", format_time(run.start_time)),
        ("stop", format_time(run.stop_time)),
        ("duration", format_duration(run.duration)),
        ("result", run.result),
        ("seed", run.seed),
        ("location", run.location),
    ]
    if run.info.get("reproduces") is not None:
        header.append(("reproduces", run.info["reproduces"]))
    dataset, code = run.dataset, run.code
    sections = [
        f"run {run.run_id}",
        render_pairs(header),
        "config",
        render_pairs(sorted(flatten_config(run.config).items())),
        "dataset",
        render_pairs(
            [(k, dataset.get(k)) for k in ("name", "fingerprint", "record_dir")]
            + sorted(flatten_config({"source": dataset.get("source") or {}}).items())
        ),
        "model",
        render_pairs(
            [("network", run.model)]
            + [(k, run.info.get(k)) for k in ("model_dir", "export_dir", "tensorboard")]
        ),
        "code",
        render_pairs([(k, code.get(k)) for k in ("commit", "dirty", "diff_artifact")]),
        "final metrics",
        _metrics_table(run),
        "artifacts",
        render_pairs([(name, "") for name in run.artifacts]),
    ]
    if run.status == "FAILED" and run.raw.get("fail_trace"):
        sections += ["failure", "  " + str(run.raw["fail_trace"][-1]).strip()]
    return "\n".join(sections)


def run(args: argparse.Namespace) -> int:
    """Print one run; returns 0."""
    print(describe(open_store(args).get_run(args.run_id)))
    return 0
