"""`reproml show RUN`: config, dataset fingerprint, commit (+dirty), final metrics, artifacts."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from reproml.cli.seal_marks import seal_line
from reproml.cli.table import format_duration, format_time, render_pairs, render_table
from reproml.runs.annotations import is_mongo_run, notes_of, tags_of
from reproml.runs.lineage import parent_of
from reproml.runs.record import (
    RunRecord,
    class_count_lines,
    flatten_config,
    missing_class_lines,
    source_artifact_name,
)
from reproml.runs.safe_names import check_stored_run
from reproml.runs.seal import SealCheck, check_run
from reproml.runs.stores import list_runs_warning, open_store
from reproml.tracking.model_summary import format_bytes, format_shape


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


def _model_pairs(run: RunRecord) -> list[tuple[str, Any]]:
    """Parameters, sizes on disk and the reported checkpoint, when the run recorded them."""
    pairs: list[tuple[str, Any]] = []
    summary = run.info.get("model_summary")
    if isinstance(summary, dict):
        pairs.append(("parameters", summary.get("parameters")))
        for key in ("checkpoint_bytes", "saved_model_bytes"):
            if summary.get(key) is not None:
                pairs.append((key.replace("_bytes", " size"), format_bytes(summary[key])))
    best = run.info.get("best_checkpoint")
    if isinstance(best, dict):
        value = best.get("value")
        shown = f"{value:.4g}" if isinstance(value, float) else value
        pairs.append(("best checkpoint", f"step {best.get('step')} ({best.get('metric')} {shown})"))
    stopped = run.info.get("early_stopping")
    if isinstance(stopped, dict):
        pairs.append(
            (
                "early stopping",
                f"stopped at step {stopped.get('stopped_at_step')} "
                f"(patience {stopped.get('patience')})",
            )
        )
    weights = run.info.get("backbone_weights")
    if isinstance(weights, dict):
        pairs.append(("weights file", f"{weights.get('file')} (sha256 {weights.get('sha256')})"))
        if weights.get("url"):
            pairs.append(("weights url", weights["url"]))
    tuning = run.info.get("fine_tuning")
    if isinstance(tuning, dict):
        layers = ", ".join(tuning.get("unfrozen_layers") or []) or "none"
        pairs.append(
            (
                "fine-tuning",
                f"{tuning.get('backbone')}: head from step 0; top {tuning.get('unfreeze_top')} "
                f"layer(s) ({layers}) from step {tuning.get('unfreeze_at_step')}; "
                f"{tuning.get('frozen_layers')} frozen",
            )
        )
    return pairs


def _layers_section(run: RunRecord) -> list[str]:
    """The per-layer table (name, output shape, parameters), when the run recorded it."""
    summary = run.info.get("model_summary")
    layers = summary.get("layers") if isinstance(summary, dict) else None
    if not layers:
        return []
    rows = [
        (layer["name"], format_shape(layer["output_shape"]), layer["parameters"])
        for layer in layers
    ]
    table = render_table(("layer", "output shape", "parameters"), rows)
    return ["layers", "\n".join("  " + line for line in table.splitlines())]


def _drift_sections(run: RunRecord, monitored_by: list[RunRecord]) -> list[str]:
    """The drift report of a drift run, and the drift runs that monitor `run`."""
    sections = []
    drift = run.info.get("drift")
    if isinstance(drift, dict):
        keys = ("windowing", "num_windows", "flagged_windows", "alpha", "test", "checkpoint")
        pairs = [(k, drift.get(k)) for k in keys]
        for side in ("baseline", "production"):
            source = drift.get(side) or {}
            where = source.get("record_dir") or source.get("npz")
            pairs.append((side, f"{where} {source.get('split', '')}".strip()))
        sections += ["drift", render_pairs(pairs)]
    if monitored_by:
        rows = [
            (
                r.run_id,
                r.shown_status,
                (r.info.get("drift") or {}).get("flagged_windows"),
                (r.info.get("drift") or {}).get("num_windows"),
            )
            for r in monitored_by
        ]
        table = render_table(("drift run", "status", "flagged windows", "windows"), rows)
        sections += ["monitored by", "\n".join("  " + line for line in table.splitlines())]
    return sections


def _shown_source(dataset: dict) -> dict:
    """The recorded source, without the subset's class counts (shown as ``examples <split>``)."""
    source = dict(dataset.get("source") or {})
    if isinstance(source.get("subset"), dict):
        source["subset"] = {k: v for k, v in source["subset"].items() if k != "examples_per_class"}
    return source


def _replaced_pairs(dataset: dict) -> list[tuple[str, Any]]:
    """The records this run's ``overwrite_records=True`` replaced, when it replaced any."""
    replaced = dataset.get("replaced")
    if not isinstance(replaced, dict):
        return []
    parts = [
        f"dataset {replaced['name']!r}" if replaced.get("name") else None,
        f"from {replaced['source']}" if replaced.get("source") else None,
        f"fingerprint {replaced['fingerprint']}" if replaced.get("fingerprint") else None,
    ]
    return [("replaced", ", ".join(p for p in parts if p) or "an unreadable manifest")]


def _verified_line(run: RunRecord) -> str | None:
    """Say how the run checked its dataset's shards (``info.records_read``), or None."""
    read = run.info.get("records_read")
    if not isinstance(read, list):
        return None
    record_dir = run.dataset.get("record_dir")
    for entry in read:
        if isinstance(entry, dict) and entry.get("record_dir") == record_dir:
            size = entry.get("bytes")
            size = f"{size:,}" if isinstance(size, int) else repr(size)
            line = (
                f"sha256 of {entry.get('shards')} shards ({size} bytes) in "
                f"{entry.get('seconds')} s before reading"
            )
            if entry.get("seconds_at_end") is not None:
                line += f", {entry['seconds_at_end']} s at the end"
            return line
    return None


def _files_line(code: dict) -> str | None:
    """``N files (sha256 recorded)``: the sources the run depended on, as `reproduce` checks."""
    files = code.get("files")
    return f"{len(files)} files (sha256 recorded; reproduce checks them)" if files else None


def _untracked_line(run: RunRecord) -> str | None:
    """The untracked files the run depended on; where each one's content is kept, if not a source.

    A module imported when the run started is among Sacred's sources; one imported during the
    run and in no commit is kept as an artifact (`reproml.runs.record.source_artifact_name`).
    """
    shown = []
    for name in run.code.get("untracked") or []:
        artifact = source_artifact_name(name)
        shown.append(f"{name} (artifact {artifact})" if artifact in run.artifacts else name)
    return ", ".join(shown) or None


def describe(
    run: RunRecord, monitored_by: list[RunRecord] | None = None, seal: SealCheck | None = None
) -> str:
    """Return the text `show` prints for `run`.

    Args:
      run: the run.
      monitored_by: drift runs that monitor it.
      seal: how its record compares with its seal (`reproml.runs.seal.check_run`).
    """
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
    if seal is not None:
        header.append(("seal", seal_line(seal)))
    header += [("tags", ", ".join(tags_of(run)) or None), ("note", notes_of(run) or None)]
    if run.info.get("reproduces") is not None:
        header.append(("reproduces", run.info["reproduces"]))
    if run.info.get("monitors") is not None:
        header.append(("monitors", run.info["monitors"]))
    if parent_of(run) is not None:
        lineage = run.info["lineage"]
        header.append(
            ("parent", f"run {parent_of(run)} (warm start from {lineage.get('checkpoint')})")
        )
    dataset, code = run.dataset, run.code
    sections = [
        f"run {run.run_id}",
        render_pairs(header),
        "config",
        render_pairs(sorted(flatten_config(run.config).items())),
        "dataset",
        render_pairs(
            [(k, dataset.get(k)) for k in ("name", "fingerprint", "record_dir")]
            + [("verified", _verified_line(run))]
            + [(f"examples {split}", line) for split, line in class_count_lines(dataset)]
            + [
                (f"boxes {split}", line)
                for split, line in class_count_lines(dataset, entry="boxes_per_class")
            ]
            + [("warning", line.removeprefix("WARNING: ")) for line in missing_class_lines(dataset)]
            + _replaced_pairs(dataset)
            + sorted(flatten_config({"source": _shown_source(dataset)}).items())
        ),
        "model",
        render_pairs(
            [("network", run.model)]
            + _model_pairs(run)
            + [(k, run.info.get(k)) for k in ("model_dir", "export_dir", "tensorboard")]
        ),
        *_layers_section(run),
        "code",
        render_pairs(
            [(k, code.get(k)) for k in ("repo", "commit", "dirty", "diff_artifact")]
            + [
                ("files", _files_line(code)),
                ("untracked", _untracked_line(run)),
            ]
        ),
        "final metrics",
        _metrics_table(run),
        "artifacts",
        render_pairs([(name, "") for name in run.artifacts]),
    ]
    sections += _drift_sections(run, monitored_by or [])
    if run.status == "FAILED" and run.raw.get("fail_trace"):
        sections += ["failure", "  " + str(run.raw["fail_trace"][-1]).strip()]
    return "\n".join(sections)


def run(args: argparse.Namespace) -> int:
    """Print one run; returns 0.

    Raises:
      UnsafeNameError: the record names a file outside the run (an altered record: refused in
        one line rather than listed).
    """
    store = open_store(args)
    shown = store.get_run(args.run_id)
    check_stored_run(shown, None if is_mongo_run(shown) else Path(shown.location).parent)
    monitored_by = [
        r for r in list_runs_warning(store) if str(r.info.get("monitors")) == shown.run_id
    ]
    print(describe(shown, monitored_by, check_run(store, shown, full=True)))
    return 0
