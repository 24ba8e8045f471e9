"""Per-class counts of label sets (examples) and box labels (boxes) in the manifest, the run and `show`."""

from __future__ import annotations

import pytest

from handlers import BoxesHandler, ClassLabelHandler, EncodedImageHandler, MultiLabelHandler
from reproml.records.manifest import load_manifest
from reproml.records.sources_coco import rows_from_coco
from reproml.records.sources_index import rows_from_index
from reproml.records.writer import write_records
from reproml.sacred_internals import run_id
from reproml.tracking import experiment as rx
from reproml.tracking.recording import class_counts, examples_per_class
from tests.records.writing.class_count_experiment import ex
from tests.records.writing.test_sources_coco import NAMES, coco  # noqa: F401 (a fixture)
from tests.records.writing.test_sources_index import TAGS, fruit  # noqa: F401 (a fixture)


@pytest.fixture(scope="module")
def coco_records(coco, tmp_path_factory):  # noqa: F811
    """The COCO fixture's 3 images (boxes banana+fig, kiwi+fig, none) as records."""
    folder, _data = coco
    src = rows_from_coco({"train": (folder / "train.json", folder)})
    record_dir = tmp_path_factory.mktemp("coco_records")
    write_records(
        record_dir,
        "{split}-{idx:03d}.tfrecord",
        {
            "image": EncodedImageHandler(size=(8, 8)),
            "objects": BoxesHandler(names=src.category_names),
            "labels": MultiLabelHandler(names=src.category_names),
        },
        samples_per_record=2,
        split_to_size=src.split_to_size,
        rows_gen=src.rows_gen,
        source=src.source,
        progress=False,
    )
    return record_dir


def test_a_multi_label_csv_index_counts_the_examples_holding_each_class(fruit, tmp_path):  # noqa: F811
    folder, expected = fruit
    src = rows_from_index(
        folder / "index.csv",
        label_columns=("label", "tags"),
        multi_label_columns=("tags",),
        split_column="split",
    )
    manifest = write_records(
        tmp_path / "records",
        "{split}-{idx:03d}.tfrecord",
        {
            "image": EncodedImageHandler(size=(4, 4)),
            "label": ClassLabelHandler(names=src.label_names["label"]),
            "tags": MultiLabelHandler(names=src.label_names["tags"]),
        },
        samples_per_record=8,
        split_to_size=src.split_to_size,
        rows_gen=src.rows_gen,
        progress=False,
    )
    for split, rows in expected.items():
        want = {tag: sum(tag in tags for _, _, tags in rows) for tag in TAGS}
        assert manifest.splits[split].label_histogram["tags"] == want
        assert load_manifest(tmp_path / "records").splits[split].label_histogram["tags"] == want
    assert manifest.splits["train"].label_histogram["label"] == {"banana": 20, "fig": 1}
    assert manifest.splits["train"].label_histogram["tags"] == {
        "ripe": 10,
        "spotted": 10,
        "yellow": 9,
    }
    assert manifest.class_count_unit("tags") == "examples"
    assert examples_per_class(manifest)["eval"] == {
        "label/banana": 2,
        "label/fig": 1,
        "tags/ripe": 2,
        "tags/spotted": 2,
        "tags/yellow": 3,
    }
    assert class_counts(manifest, "boxes") == {}


def test_coco_boxes_are_counted_per_box_and_label_sets_per_example(coco_records):
    manifest = load_manifest(coco_records)
    histograms = manifest.splits["train"].label_histogram
    assert list(histograms["objects/label"]) == list(NAMES)  # every class, in names order
    # boxes: banana + fig (image 10), kiwi + fig (image 11; its crowd box is skipped), none (12)
    assert histograms["objects/label"] == {"banana": 1, "kiwi": 1, "fig": 2}
    assert histograms["labels"] == {"banana": 1, "kiwi": 1, "fig": 2}
    assert manifest.class_count_unit("objects/label") == "boxes"
    assert manifest.class_count_unit("labels") == "examples"
    assert class_counts(manifest, "boxes") == {"train": {"banana": 1, "kiwi": 1, "fig": 2}}
    assert examples_per_class(manifest) == {"train": {"banana": 1, "kiwi": 1, "fig": 2}}


def test_the_run_summary_and_show_print_boxes_and_examples_per_class(
    coco_records, tmp_path, monkeypatch, capsys
):
    from reproml.cli.main import main

    monkeypatch.setenv("REPROML_RUNS_DIR", str(tmp_path / "runs"))
    run = ex.run(config_updates={"record_dir": str(coco_records)})
    assert run.info["dataset"]["boxes_per_class"] == {"train": {"banana": 1, "kiwi": 1, "fig": 2}}
    summary = "\n".join(rx.run_summary(run))
    assert "examples per class, train: banana 1, kiwi 1, fig 2" in summary
    assert "boxes per class, train: banana 1, kiwi 1, fig 2" in summary
    capsys.readouterr()
    assert main(["--store", str(tmp_path / "runs"), "show", str(run_id(run))]) == 0
    out = capsys.readouterr().out
    shown = {
        tuple(line.split(None, 2)[:2]): line.split(None, 2)[2]
        for line in out.splitlines()
        if line.startswith(("  examples ", "  boxes "))
    }
    # the store writes run.json with sorted keys: classes come back by name
    assert shown[("examples", "train")] == "banana 1, fig 2, kiwi 1", out
    assert shown[("boxes", "train")] == "banana 1, fig 2, kiwi 1", out
