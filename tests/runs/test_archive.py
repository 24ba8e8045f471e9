"""`reproml export` / `reproml import`: one run as one checked file, between stores and machines."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path

import gridfs
import pytest

from reproml.runs.archive import HEADER, content_digest
from reproml.runs.file_store import FileStore


def _run_files(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}


def _sources(store: Path, run_id: str) -> dict[str, bytes]:
    entry = json.loads((store / run_id / "run.json").read_text())
    return {name: (store / stored).read_bytes() for name, stored in entry["experiment"]["sources"]}


def _members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar}


def _write_tar(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.fixture
def exported(world, cli, tmp_path, no_mongo_env) -> Path:
    """Run 2 of the toy store (dirty code: a code.diff artifact), tagged, as an archive."""
    code, _, err = cli("--store", world.store, "export", "2", "-o", tmp_path / "run-2.tar.gz")
    assert code == 0, err
    return tmp_path / "run-2.tar.gz"


def test_export_holds_files_artifacts_sources_resources_and_their_hashes(world, exported):
    members = _members(exported)
    header = json.loads(members.pop(HEADER))
    assert (header["format"], header["version"], header["original_id"]) == (
        "reproml-run-archive",
        1,
        "2",
    )
    assert header["origin"]["store"] == "file"
    assert header["origin"]["location"] == str(world.store.resolve())
    run_dir = world.store / "2"
    for name, data in _run_files(run_dir).items():
        where = (
            "artifacts"
            if name in json.loads((run_dir / "run.json").read_text())["artifacts"]
            else "run"
        )
        assert members[f"{where}/{name}"] == data
    assert {s["name"] for s in header["sources"]} == set(_sources(world.store, "2"))
    assert all(
        members[s["member"]] == _sources(world.store, "2")[s["name"]] for s in header["sources"]
    )
    assert header["members"] == {n: hashlib.sha256(d).hexdigest() for n, d in members.items()}


def test_export_is_deterministic_and_zip_holds_the_same(world, cli, exported, tmp_path):
    again = tmp_path / "again.tar.gz"
    assert cli("--store", world.store, "export", "2", "-o", again)[0] == 0
    assert again.read_bytes() == exported.read_bytes()
    assert cli("--store", world.store, "export", "2", "-o", tmp_path / "run-2.zip")[0] == 0
    with zipfile.ZipFile(tmp_path / "run-2.zip") as z:
        assert {n: z.read(n) for n in z.namelist()} == _members(exported)


def test_import_into_a_file_store_adds_the_same_run_under_a_new_id(world, cli, exported, tmp_path):
    other = tmp_path / "other"
    code, out, err = cli("import", exported, "--store", other)
    assert code == 0, err
    assert out == (
        f"imported {exported} (run 2 of file {world.store.resolve()} on "
        f"{json.loads(_members(exported)[HEADER])['origin']['hostname']}) as run 1 in {other}\n"
    )
    original, copy = world.store / "2", other / "1"
    before, after = _run_files(original), _run_files(copy)
    assert set(after) == set(before)
    for name in set(before) - {"run.json"}:
        assert after[name] == before[name], name
    entry, old = json.loads(after["run.json"]), json.loads(before["run.json"])
    imported = entry["meta"].pop("imported_from")
    assert entry["meta"] == old["meta"]
    assert imported["original_id"] == "2" and imported["archive"] == "run-2.tar.gz"
    assert imported["archive_sha256"] == hashlib.sha256(exported.read_bytes()).hexdigest()
    assert imported["content_sha256"] == content_digest(json.loads(_members(exported)[HEADER]))
    assert _sources(other, "1") == _sources(world.store, "2")
    assert entry["resources"] == old["resources"] == []  # toy runs have none: see test_real_run
    record = FileStore(other).get_run("1")
    assert (record.config, record.metrics, record.status) == (
        FileStore(world.store).get_run("2").config,
        FileStore(world.store).get_run("2").metrics,
        "COMPLETED",
    )
    # The same archive again adds nothing.
    code, out, _ = cli("import", exported, "--store", other)
    assert code == 0 and out == f"{exported}: already imported as run 1 in {other}\n"
    assert sorted(p.name for p in other.iterdir() if not p.name.startswith(("_", "."))) == ["1"]


def test_import_takes_the_next_free_id_and_leaves_no_staging(store_copy, cli, exported):
    code, out, err = cli("import", exported, "--store", store_copy)
    assert code == 0, err
    assert out.endswith(f"as run 5 in {store_copy}\n")
    assert sorted(p.name for p in store_copy.iterdir() if not p.name.startswith("_")) == [
        ".import.lock", "1", "2", "3", "4", "5",
    ]  # fmt: skip


def _damaged(exported: Path, tmp_path: Path, change) -> Path:
    members = _members(exported)
    change(members)
    path = tmp_path / "damaged.tar.gz"
    _write_tar(path, members)
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda m: m.update({"run/metrics.json": m["run/metrics.json"].replace(b"1", b"2")}),
            "member run/metrics.json is damaged or altered (sha256 ",
        ),
        (lambda m: m.pop("artifacts/code.diff"), "member artifacts/code.diff is listed in"),
        (lambda m: m.update({"run/extra.txt": b"x"}), "member run/extra.txt is not listed in"),
        (lambda m: m.update({"../evil.txt": b"x"}), "member '../evil.txt' has a '..' part"),
        (lambda m: m.pop(HEADER), f"has no {HEADER}"),
        (
            lambda m: m.update({HEADER: m[HEADER].replace(b'"version": 1', b'"version": 9')}),
            "archive format version 9; this reproml reads versions up to 1",
        ),
    ],
)
def test_a_damaged_or_altered_archive_is_refused_naming_the_member(
    exported, tmp_path, cli, change, message
):
    damaged = _damaged(exported, tmp_path, change)
    other = tmp_path / "other"
    code, out, err = cli("import", damaged, "--store", other)
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert message in err, err
    assert not [p for p in other.iterdir() if not p.name.startswith(".import.lock")]


def test_a_truncated_or_foreign_file_is_refused(exported, tmp_path, cli):
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(exported.read_bytes()[: exported.stat().st_size // 2])
    code, _, err = cli("import", truncated, "--store", tmp_path / "other")
    assert code == 2 and "is damaged" in err and "refused" in err
    foreign = tmp_path / "notes.tar.gz"
    foreign.write_bytes(gzip.compress(b"not a tar"))
    code, _, err = cli("import", foreign, "--store", tmp_path / "other")
    assert code == 2 and "is not a reproml run archive" in err
    code, _, err = cli("--store", tmp_path / "x", "export", "1", "-o", tmp_path / "run.tar")
    assert code == 2  # no store there


def test_export_needs_an_archive_name(world, cli, tmp_path):
    code, _, err = cli("--store", world.store, "export", "1", "-o", tmp_path / "run-1.rar")
    assert code == 2 and "expected an archive name ending in .tar.gz, .tgz or .zip" in err


def test_mongo_round_trip_with_tags_and_idempotent_import(
    world, cli, store_copy, mongo_db, tmp_path, no_mongo_env
):
    url, db = mongo_db
    assert cli("--store", store_copy, "tag", "2", "best", "--note", "keep")[0] == 0
    archive = tmp_path / "run-2.zip"
    assert cli("--store", store_copy, "export", "2", "-o", archive)[0] == 0
    code, out, err = cli("import", archive, "--mongo", url)
    assert code == 0, err
    assert out.endswith(" as run 1 in " + out.rsplit(" in ", 1)[1])
    doc = db.runs.find_one({"_id": 1})
    ref = world.db.runs.find_one({"_id": 2})  # the same run, recorded live by MongoObserver
    for field in ("status", "result", "config", "command", "host", "start_time", "stop_time"):
        assert doc[field] == ref[field], field
    assert {k: v for k, v in doc["meta"].items() if k != "imported_from"} == ref["meta"]
    assert set(doc["meta"]["imported_from"]) >= {"origin", "original_id", "archive_sha256"}
    assert doc["omniboard"] == {"tags": ["best"], "notes": "keep"}
    fs, ref_fs = gridfs.GridFS(db), gridfs.GridFS(world.db)
    assert [a["name"] for a in doc["artifacts"]] == [a["name"] for a in ref["artifacts"]]
    for art, ref_art in zip(doc["artifacts"], ref["artifacts"], strict=True):
        assert fs.get(art["file_id"]).read() == ref_fs.get(ref_art["file_id"]).read()
    assert doc["resources"] == [list(r) for r in ref["resources"]]
    ref_metrics = {m["name"]: m["values"] for m in world.db.metrics.find({"run_id": 2})}
    assert {m["name"]: m["values"] for m in db.metrics.find({"run_id": 1})} == ref_metrics
    code, out, _ = cli("import", archive, "--mongo", url)
    assert code == 0 and out.startswith(f"{archive}: already imported as run 1 in ")
    assert db.runs.count_documents({}) == 1


def test_a_mongo_import_killed_half_way_is_redone_under_its_id(exported, cli, mongo_db):
    url, db = mongo_db
    assert cli("import", exported, "--mongo", url)[0] == 0
    db.runs.update_one({"_id": 1}, {"$unset": {"meta.imported_from.archive_sha256": ""}})
    code, out, err = cli("import", exported, "--mongo", url)
    assert code == 0 and "as run 1 in" in out, err
    assert db.runs.count_documents({}) == 1
    assert db.runs.find_one({"_id": 1})["meta"]["imported_from"]["archive_sha256"]


def test_a_mongo_run_exports_and_imports_into_a_file_store(world, cli, tmp_path, no_mongo_env):
    archive = tmp_path / "mongo-run-1.tar.gz"
    code, out, err = cli("--mongo", world.mongo_url, "export", "1", "-o", archive)
    assert code == 0, err
    header = json.loads(_members(archive)[HEADER])
    assert header["origin"]["store"] == "mongodb"
    other = tmp_path / "other"
    assert cli("import", archive, "--store", other)[0] == 0
    record, ref = FileStore(other).get_run("1"), FileStore(world.store).get_run("1")
    assert (record.config, record.status, record.result, record.artifacts) == (
        ref.config, ref.status, ref.result, ref.artifacts,
    )  # fmt: skip
    assert {k: v["values"] for k, v in record.metrics.items()} == {
        k: v["values"] for k, v in ref.metrics.items()
    }
    for name in ref.artifacts:
        assert (other / "1" / name).read_bytes() == (world.store / "1" / name).read_bytes()
    assert _sources(other, "1") == _sources(world.store, "1")
    code, out, _ = cli("--store", other, "show", "1")
    assert code == 0 and "toy" in out
