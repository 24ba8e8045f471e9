"""`reproml compare A B`: config, metric, dataset and code differences between two runs.

A run whose record no longer matches its seal gets the listings' ``! run N: TAMPERED: ...`` line
under the heading (`reproml.cli.seal_marks`): its numbers are not the record it sealed.
"""

from __future__ import annotations

import argparse
import numbers
from typing import Any

from reproml.cli.seal_marks import seal_checks, tampered_lines
from reproml.cli.table import MISSING, render_table
from reproml.runs.code_state import summarize_diff
from reproml.runs.lineage import parent_of
from reproml.runs.record import RunRecord, flatten_config
from reproml.runs.stores import RunStore, open_store

_ABSENT = object()


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `compare`."""
    parser = subparsers.add_parser("compare", help="what differs between two runs")
    parser.add_argument("run_a", metavar="A", help="first run id")
    parser.add_argument("run_b", metavar="B", help="second run id")
    parser.set_defaults(func=run)


def _cell(value: Any) -> Any:
    return MISSING if value is _ABSENT else value


def config_diff(a: RunRecord, b: RunRecord) -> list[tuple[str, Any, Any]]:
    """Return ``(key, value in A, value in B)`` for every (dotted) config key that differs."""
    fa, fb = flatten_config(a.config), flatten_config(b.config)
    return [
        (key, _cell(fa.get(key, _ABSENT)), _cell(fb.get(key, _ABSENT)))
        for key in sorted(set(fa) | set(fb))
        if fa.get(key, _ABSENT) != fb.get(key, _ABSENT)
    ]


def metric_diff(a: RunRecord, b: RunRecord) -> list[tuple[str, Any, Any, Any]]:
    """Return ``(metric, final in A, final in B, B - A)`` for every metric of either run."""
    ma, mb = a.final_metrics(), b.final_metrics()
    rows = []
    for name in sorted(set(ma) | set(mb)):
        va = ma[name][1] if name in ma else None
        vb = mb[name][1] if name in mb else None
        numeric = all(isinstance(v, numbers.Number) and not isinstance(v, bool) for v in (va, vb))
        rows.append((name, va, vb, vb - va if numeric else None))
    return rows


def provenance_diff(a: RunRecord, b: RunRecord, store: RunStore) -> list[tuple[str, Any, Any]]:
    """Return ``(what, A, B)`` for the dataset and code facts that differ.

    The recorded uncommitted diffs are compared byte for byte too.
    """
    facts = [
        ("experiment", a.experiment, b.experiment),
        ("dataset.name", a.dataset.get("name"), b.dataset.get("name")),
        ("dataset.fingerprint", a.dataset.get("fingerprint"), b.dataset.get("fingerprint")),
        ("dataset.record_dir", a.dataset.get("record_dir"), b.dataset.get("record_dir")),
        ("model", a.model, b.model),
        ("code.commit", a.code.get("commit"), b.code.get("commit")),
        ("code.dirty", a.code.get("dirty"), b.code.get("dirty")),
        ("seed", a.seed, b.seed),
        ("reproduces", a.info.get("reproduces"), b.info.get("reproduces")),
        ("parent", parent_of(a), parent_of(b)),
    ]
    diffs = [_diff_artifact(a, store), _diff_artifact(b, store)]
    if diffs[0] != diffs[1]:
        facts.append(("code.diff", _describe_diff(diffs[0]), _describe_diff(diffs[1])))
    return [(what, va, vb) for what, va, vb in facts if va != vb]


def _diff_artifact(run: RunRecord, store: RunStore) -> bytes | None:
    name = run.code.get("diff_artifact")
    if not name or name not in run.artifacts:
        return None
    return store.read_artifact(run, name)


def _describe_diff(diff: bytes | None) -> str:
    return "not recorded" if diff is None else summarize_diff(diff.decode("utf-8", "replace"))


def _evaluator(run: RunRecord) -> tuple[str | None, Any]:
    evaluator = run.info.get("evaluator")
    if not isinstance(evaluator, dict):
        return None, None
    return evaluator.get("fingerprint"), evaluator.get("num_samples")


def evaluator_note(a: RunRecord, b: RunRecord) -> str | None:
    """Return why the GAN scores (``eval.frechet_distance``, ...) of A and B are not comparable.

    None when neither run has GAN scores, or both were scored by the same evaluator
    (``info["evaluator"]["fingerprint"]``) over the same number of samples.
    """
    gan = ("eval.frechet_distance", "eval.mnist_score")
    if not any(name in run.final_metrics() for run in (a, b) for name in gan):
        return None
    (fa, na), (fb, nb) = _evaluator(a), _evaluator(b)
    if fa is None and fb is None:
        return "not comparable: no evaluator recorded in either run (GAN scores)"
    if fa != fb:
        name_a, name_b = (str(f)[:12] if f else "not recorded" for f in (fa, fb))
        return f"not comparable: evaluator {name_a} vs {name_b} (GAN scores)"
    if na != nb:
        return f"not comparable: GAN scores over {na} vs {nb} samples (evaluator {fa[:12]})"
    return None


def describe(a: RunRecord, b: RunRecord, store: RunStore) -> str:
    """Return the text `compare` prints."""
    head_a, head_b = f"run {a.run_id}", f"run {b.run_id}"
    sections = []
    note = evaluator_note(a, b)
    if note:
        sections.append(note)
    for title, rows, headers in (
        ("dataset and code", provenance_diff(a, b, store), ("", head_a, head_b)),
        ("config", config_diff(a, b), ("key", head_a, head_b)),
        ("final metrics", metric_diff(a, b), ("metric", head_a, head_b, "B - A")),
    ):
        sections.append(f"{title}:")
        if rows:
            table = render_table(headers, rows)
            sections.append("\n".join("  " + line for line in table.splitlines()))
        else:
            sections.append("  (identical)")
    return "\n".join(sections)


def run(args: argparse.Namespace) -> int:
    """Print the differences; returns 0."""
    store = open_store(args)
    a, b = store.get_run(args.run_a), store.get_run(args.run_b)
    print(f"compare run {a.run_id} ({a.experiment}) with run {b.run_id} ({b.experiment})")
    for line in tampered_lines(seal_checks(store, [a, b]), [a.run_id, b.run_id]):
        print(line)
    print(describe(a, b, store))
    return 0
