"""The scenario builder: held-out baseline, windows with known degradation, records + manifest."""

import numpy as np
import pytest

from reproml.drift.embeddings import read_split
from reproml.drift.scenario import DEGRADATIONS, build_scenario, degrade, degraded_windows
from reproml.errors import ConfigError, RecordError
from reproml.records.manifest import load_manifest
from reproml.records.verify import verify

SMALL = {"baseline_size": 100, "window_size": 20, "num_windows": 5}


@pytest.fixture(scope="module")
def scenario(digits_test_records, tmp_path_factory):
    out = tmp_path_factory.mktemp("scenario") / "records"
    degradations = [[1, "rotate", 90], [3, "contrast", 0.5, 4]]  # window 3: only the 4s
    manifest = build_scenario(digits_test_records, out, degradations=degradations, **SMALL)
    return manifest, out


def test_records_hold_a_baseline_and_a_windowed_stream(scenario, digits_test_records):
    manifest, out = scenario
    assert verify(out) == []  # every shard matches its manifest (sha256)
    assert {s: manifest.splits[s].num_examples for s in manifest.splits} == {
        "baseline": 100,
        "production": 100,
    }
    assert sorted(manifest.schema) == ["image", "label", "timestamp", "window"]
    assert manifest.schema["label"].spec.names == tuple(str(i) for i in range(10))
    source = manifest.source["scenario"]
    assert source["source"]["fingerprint"] == load_manifest(digits_test_records).fingerprint
    assert source["degraded"] == {
        "1": {"kind": "rotate", "strength": 90.0, "label": None},
        "3": {"kind": "contrast", "strength": 0.5, "label": "4"},
    }
    assert degraded_windows(load_manifest(out)) == [1, 3]


def test_windows_and_timestamps_follow_the_stream(scenario):
    _, out = scenario
    production = read_split(out, "production")
    baseline = read_split(out, "baseline")
    windows = np.repeat(np.arange(5), 20)
    start, hour = 1_700_000_000, 3600
    assert np.array_equal((production.timestamps - start) // hour, windows)
    assert np.all(np.diff(production.timestamps) > 0)
    assert np.all((baseline.timestamps >= start - hour) & (baseline.timestamps < start))


def test_clean_windows_are_held_out_images_and_degraded_ones_are_changed(
    scenario, digits_test_records
):
    _, out = scenario
    source = read_split(digits_test_records, "test")
    baseline, production = read_split(out, "baseline"), read_split(out, "production")
    index = {image.tobytes(): i for i, image in enumerate(source.images)}
    baseline_rows = {index[image.tobytes()] for image in baseline.images}
    windows = production.images.reshape(5, 20, 28, 28, 1)
    labels = production.labels.reshape(5, 20)
    for w in (0, 2, 4):  # clean: source images not in the baseline, labels kept
        rows = [index[image.tobytes()] for image in windows[w]]
        assert not baseline_rows & set(rows)
        assert np.array_equal(source.labels[rows], labels[w])
    assert not any(image.tobytes() in index for image in windows[1])  # every image rotated
    fours = labels[3] == 4
    assert fours.any() and (~fours).any()
    assert all(image.tobytes() in index for image in windows[3][~fours])  # the others clean
    assert not any(image.tobytes() in index for image in windows[3][fours])


def test_the_same_seed_builds_the_same_records(digits_test_records, scenario, tmp_path):
    manifest, _ = scenario
    again = build_scenario(
        digits_test_records,
        tmp_path / "again",
        degradations=[[1, "rotate", 90], [3, "contrast", 0.5, 4]],
        **SMALL,
    )
    assert again.fingerprint == manifest.fingerprint


def test_existing_records_are_not_overwritten_unless_asked(digits_test_records, scenario):
    _, out = scenario
    with pytest.raises(RecordError, match="already holds records.*overwrite=True"):
        build_scenario(digits_test_records, out, degradations=[], **SMALL)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"degradations": [[5, "blur", 1.0]]}, "'degradations': expected"),
        ({"degradations": [[1, "blur", 1.0], [1, "noise", 0.1]]}, "each window once"),
        ({"degradations": [[1, "blur", 1.0, 10]]}, "label in \\[0, 10\\)"),
        ({"degradations": [[1, "smear", 1.0]]}, "'degradation kind': expected one of"),
        ({"degradations": [[1, "blur", 0]]}, "'blur strength'"),
        ({"degradations": [[1, "contrast", 2]]}, "'contrast strength'"),
        ({"baseline_size": 290}, "'baseline_size \\+ window_size': expected at most the 300"),
        ({"window_size": 0}, "'window_size': expected an int >= 1"),
        ({"window_seconds": 10}, "'window_seconds': expected an int >= window_size"),
    ],
)
def test_bad_settings_are_refused_naming_the_entry(digits_test_records, tmp_path, changes, message):
    settings = {**SMALL, "degradations": [], **changes}
    with pytest.raises(ConfigError, match=message):
        build_scenario(digits_test_records, tmp_path / "x", **settings)
    assert not (tmp_path / "x").exists()


def test_degradations_do_what_they_say():
    rng = np.random.default_rng(0)
    images = np.zeros((2, 8, 8, 1), np.uint8)
    images[:, 1:3, 2:6] = 200
    rotated = degrade(images, "rotate", 90, rng)
    assert np.array_equal(rotated[..., 0], np.rot90(images[..., 0], k=1, axes=(1, 2)))
    blurred = degrade(images, "blur", 1.0, rng)
    assert blurred.max() < 200 and (blurred > 0).sum() > (images > 0).sum()
    low = degrade(images, "contrast", 0.5, rng).astype(float)
    assert low.std() == pytest.approx(images.std() / 2, rel=0.05)
    noisy = degrade(images, "noise", 0.1, np.random.default_rng(1))
    again = degrade(images, "noise", 0.1, np.random.default_rng(1))
    assert np.array_equal(noisy, again) and not np.array_equal(noisy, images)
    assert set(DEGRADATIONS) == {"rotate", "blur", "noise", "contrast"}
