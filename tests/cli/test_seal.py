"""Tamper-evident records: real quick runs seal their record; every edit after that is named.

Runs 1 (COMPLETED, signed, with a ``saved_model.zip``) and 2 (FAILED, unsigned) are recorded
live by reproml's own observers into a file store and a real MongoDB at once; run 3 is a legacy
run recorded by Sacred's plain observer (no seal). Tests damage private copies.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

import pymongo
import pytest
from sacred.observers import FileStorageObserver

from reproml.runs.code_state import CodeState
from reproml.runs.seal import SEAL_FILE, seal_run_dir
from reproml.runs.signing import SIGNING_KEY_ENV, TRUSTED_KEY_ENV, load_private_key, new_key_pair
from reproml.tracking.observers import file_store_observer, mongo_observer
from tests.cli.toy_experiments import make_classifier_experiment, write_toy_records


@dataclasses.dataclass
class Sealed:
    store: Path
    mongo_url: str
    private_key: Path
    public_key: Path
    other_private_key: Path
    other_public_key: Path

    @property
    def db(self):
        return pymongo.MongoClient(self.mongo_url).get_default_database()


@pytest.fixture(scope="module")
def sealed(tmp_path_factory, mongo_server) -> Sealed:
    from tests.mongo_server import database_url

    root = tmp_path_factory.mktemp("seal")
    write_toy_records(root / "records")
    private_key, public_key = new_key_pair(root / "team")
    other_private, other_public = new_key_pair(root / "mallory")
    model = root / "model.zip"
    with zipfile.ZipFile(model, "w") as archive:
        archive.writestr("saved_model.pb", os.urandom(64))
    ex = make_classifier_experiment(root / "records", root, lambda: CodeState("a" * 40, b"x\n"))

    @ex.post_run_hook
    def add_export(_run):
        _run.add_artifact(str(model), "saved_model.zip")

    world = Sealed(
        root / "runs",
        database_url(mongo_server, "seal"),
        private_key,
        public_key,
        other_private,
        other_public,
    )
    db = world.db
    ex.observers[:] = [
        file_store_observer(str(world.store)),
        mongo_observer(db, "MongoDB test"),
    ]
    os.environ[SIGNING_KEY_ENV] = str(private_key)
    try:
        ex.run(config_updates={"seed": 1}, options={"--capture": "sys"})
    finally:
        del os.environ[SIGNING_KEY_ENV]
    with pytest.raises(RuntimeError, match="diverged"):
        ex.run(config_updates={"seed": 2, "fail": True}, options={"--capture": "sys"})
    ex.observers[:] = [FileStorageObserver(str(world.store))]  # a legacy run: never sealed
    ex.run(config_updates={"seed": 3}, options={"--capture": "sys"})
    ex.observers[:] = []
    return world


@pytest.fixture
def store(sealed, tmp_path) -> Path:
    """A private copy of the sealed file store."""
    copy = tmp_path / "runs"
    shutil.copytree(sealed.store, copy)
    return copy


@pytest.fixture(autouse=True)
def _no_keys_from_the_shell(monkeypatch):
    for name in (SIGNING_KEY_ENV, TRUSTED_KEY_ENV, "REPROML_MONGO_URL"):
        monkeypatch.delenv(name, raising=False)


def _edit_metric(run_dir: Path, value: float = 0.99) -> None:
    path = run_dir / "metrics.json"
    metrics = json.loads(path.read_text())
    metrics["eval.accuracy"]["values"][-1] = value
    path.write_text(json.dumps(metrics, indent=2))


# ------------------------------------------------------------------------------- sealing


def test_a_finished_run_is_sealed_alike_in_both_stores_whatever_its_status(sealed, cli):
    seals = {run: json.loads((sealed.store / run / SEAL_FILE).read_text()) for run in "12"}
    assert set(seals["1"]["artifacts"]) == {"code.diff", "saved_model.zip"}
    assert seals["1"]["signature"]["algorithm"] == "ed25519"
    assert "signature" not in seals["2"]  # no key set: sealed, unsigned
    assert not (sealed.store / "3" / SEAL_FILE).exists()  # legacy run
    docs = {str(d["_id"]): d for d in sealed.db.runs.find()}
    assert docs["1"]["status"] == "COMPLETED" and docs["2"]["status"] == "FAILED"
    for run in "12":
        # The same canonical content: one digest, whichever store holds the run.
        assert docs[run]["seal"]["digest"] == seals[run]["digest"]
        code, out, err = cli("--store", sealed.store, "verify", run)
        assert code == 0, out + err
        code, out, err = cli("--mongo", sealed.mongo_url, "verify", run)
        assert code == 0, out + err
        artifacts = len(seals[run]["artifacts"])
        assert f"OK, the record and {artifacts} artifact(s) match its seal" in out


def test_verify_names_the_edited_metrics_and_listings_mark_the_run(store, cli):
    _edit_metric(store / "1")
    code, out, _ = cli("--store", store, "verify", "1")
    assert code == 1
    assert out.splitlines()[0] == "CHANGED  metrics.json changed"
    assert out.splitlines()[-1].endswith("1 problem(s); the record does not match its seal")
    code, out, _ = cli("--store", store, "runs")
    assert code == 0
    statuses = [line.split()[2] for line in out.splitlines()[2:5]]
    assert statuses == ["COMPLETED!", "FAILED", "COMPLETED"]
    assert "! run 1: TAMPERED: metrics.json changed" in out
    code, out, _ = cli("--store", store, "show", "1")
    assert code == 0
    seal_lines = [line.split(None, 1)[1] for line in out.splitlines() if "seal " in line]
    assert seal_lines == ["TAMPERED: metrics.json changed"]
    code, out, _ = cli("--store", store, "leaderboard")
    assert code == 0
    assert "COMPLETED!" in out and "! run 1: TAMPERED: metrics.json changed" in out


def test_an_edited_run_json_and_config_are_named(store, cli):
    entry = json.loads((store / "1" / "run.json").read_text())
    entry["result"] = 0.999
    (store / "1" / "run.json").write_text(json.dumps(entry))
    config = json.loads((store / "1" / "config.json").read_text())
    config["lr"] = 0.5
    (store / "1" / "config.json").write_text(json.dumps(config))
    code, out, _ = cli("--store", store, "verify", store / "1")  # a run directory works too
    assert code == 1
    assert [line for line in out.splitlines() if line.startswith("CHANGED")] == [
        "CHANGED  config.json changed",
        "CHANGED  run.json changed",
    ]


def test_an_edited_removed_or_added_artifact_is_named(store, cli):
    model = store / "1" / "saved_model.zip"
    data = bytearray(model.read_bytes())
    data[-1] ^= 0xFF  # same size, one byte changed: only a full re-hash sees it
    model.write_bytes(bytes(data))
    (store / "1" / "code.diff").unlink()
    (store / "1" / "planted.txt").write_text("not part of the run")
    code, out, _ = cli("--store", store, "verify", "1")
    assert code == 1
    assert [line for line in out.splitlines() if line.startswith("CHANGED")] == [
        "CHANGED  artifact code.diff missing",
        "CHANGED  artifact saved_model.zip changed",
        "CHANGED  extra file planted.txt",
    ]
    _, out, _ = cli("--store", store, "runs")
    assert "! run 1: TAMPERED: artifact code.diff missing; extra file planted.txt" in out


def test_tags_and_notes_stay_outside_the_seal(store, cli):
    assert cli("--store", store, "tag", "1", "best", "--note", "checked by hand")[0] == 0
    code, out, err = cli("--store", store, "verify", "1")
    assert code == 0, out + err


def test_unsealed_and_running_runs_are_shown_as_such_never_as_tampered(store, cli):
    code, out, _ = cli("--store", store, "show", "3")
    assert code == 0
    assert "unsealed (recorded before sealing, or a store failed during the run)" in out
    code, out, err = cli("--store", store, "verify", "3")
    assert code == 2 and out == ""
    assert "run 3" in err and "has no seal" in err and err.count("\n") == 1
    entry = json.loads((store / "3" / "run.json").read_text())
    entry["status"], entry["heartbeat"] = "RUNNING", entry["stop_time"]
    (store / "3" / "run.json").write_text(json.dumps(entry))
    code, _, err = cli("--store", store, "verify", "3")
    assert code == 2 and "is still running" in err
    _, out, _ = cli("--store", store, "runs")
    assert "!" not in out and "TAMPERED" not in out


def _toy(tmp_path: Path):
    write_toy_records(tmp_path / "records")
    ex = make_classifier_experiment(tmp_path / "records", tmp_path, lambda: CodeState("a", b""))
    ex.observers[:] = [file_store_observer(str(tmp_path / "runs"))]
    return ex


def test_an_interrupted_run_is_sealed_too(tmp_path, cli):
    ex = _toy(tmp_path)

    @ex.post_run_hook
    def interrupt():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ex.run(options={"--capture": "sys"})
    assert json.loads((tmp_path / "runs" / "1" / "run.json").read_text())["status"] == "INTERRUPTED"
    code, out, err = cli("--store", tmp_path / "runs", "verify", "1")
    assert code == 0, out + err


def test_a_store_that_failed_during_the_run_never_seals_its_incomplete_record(tmp_path, cli):
    ex = _toy(tmp_path)
    planted = tmp_path / "seal.json"
    planted.write_text("{}")

    @ex.post_run_hook
    def add_an_artifact_the_store_refuses(_run):
        _run.add_artifact(str(planted), "seal.json")  # would overwrite the store's own file

    ex.run(options={"--capture": "sys"})
    assert not (tmp_path / "runs" / "1" / SEAL_FILE).exists()
    # The store missed the final status too: the run is shown as it was last recorded.
    _, out, _ = cli("--store", tmp_path / "runs", "show", "1")
    assert "not yet (running: sealed when it ends)" in out and "TAMPERED" not in out


# ------------------------------------------------------------------------------- signatures


def test_a_signed_record_verifies_with_the_public_key_and_a_forgery_does_not(sealed, store, cli):
    code, out, _ = cli("--store", store, "verify", "1", "--public-key", sealed.public_key)
    assert code == 0
    assert out.splitlines()[-1].endswith("(the trusted key)") and "signed by key" in out
    # A forger edits the metrics and re-seals: the checksum alone cannot tell.
    _edit_metric(store / "1")
    original = json.loads((store / "1" / SEAL_FILE).read_text())
    seal_run_dir(store / "1")
    assert cli("--store", store, "verify", "1")[0] == 0
    code, out, _ = cli("--store", store, "verify", "1", "--public-key", sealed.public_key)
    assert code == 1 and "CHANGED  the seal is not signed, and a trusted key was given" in out
    # ... copies the old signature onto the new digest, or signs with a key of their own.
    forged = json.loads((store / "1" / SEAL_FILE).read_text())
    forged["signature"] = original["signature"]
    (store / "1" / SEAL_FILE).write_text(json.dumps(forged))
    code, out, _ = cli("--store", store, "verify", "1", "--public-key", sealed.public_key)
    assert code == 1 and "does not verify with the trusted key" in out
    seal_run_dir(store / "1", load_private_key(sealed.other_private_key))
    os.environ[TRUSTED_KEY_ENV] = str(sealed.public_key)  # the key from the environment
    try:
        code, out, _ = cli("--store", store, "verify", "1")
    finally:
        del os.environ[TRUSTED_KEY_ENV]
    assert code == 1 and "does not verify with the trusted key" in out


def test_keys_new_writes_a_private_key_only_its_owner_reads_and_never_overwrites(tmp_path, cli):
    code, out, _ = cli("keys", "new", "--out", tmp_path / "keys")
    assert code == 0 and "key id" in out
    assert (tmp_path / "keys" / "reproml-signing.key").stat().st_mode & 0o777 == 0o600
    code, _, err = cli("keys", "new", "--out", tmp_path / "keys")
    assert code == 2 and "already exists" in err


def test_an_unreadable_signing_key_stops_the_run_at_its_start(tmp_path, monkeypatch):
    bad = tmp_path / "key.pem"
    bad.write_text("not a key")
    monkeypatch.setenv(SIGNING_KEY_ENV, str(bad))
    ex = _toy(tmp_path)
    with pytest.raises(Exception, match=f"signing key {bad}: not an unencrypted PEM"):
        ex.run(options={"--capture": "sys"})
    assert not any((tmp_path / "runs").glob("[0-9]*"))  # it did not start


# ------------------------------------------------------------------------------- MongoDB


def test_mongo_edited_metrics_and_artifact_are_named_and_marked(sealed, new_mongo_db, cli):
    url, db = new_mongo_db("sealpush")
    code, out, err = cli("push", sealed.store, "--mongo", url)
    assert code == 0, out + err
    pushed = {str(d["meta"]["pushed_from"]["run_id"]): d for d in db.runs.find()}
    assert (
        pushed["1"]["seal"]["digest"]
        == json.loads((sealed.store / "1" / SEAL_FILE).read_text())["digest"]
    )
    run_id = pushed["1"]["_id"]
    assert cli("--mongo", url, "verify", str(run_id), "--public-key", sealed.public_key)[0] == 0
    db.metrics.update_one({"run_id": run_id, "name": "eval.accuracy"}, {"$set": {"values.0": 0.99}})
    code, out, _ = cli("--mongo", url, "verify", str(run_id))
    assert code == 1 and out.splitlines()[0] == "CHANGED  metrics.json changed"
    _, out, _ = cli("--mongo", url, "runs")
    assert f"! run {run_id}: TAMPERED: metrics.json changed" in out
    _, out, _ = cli("--mongo", url, "leaderboard")
    assert "COMPLETED!" in out
    _, out, _ = cli("--mongo", url, "compare", str(run_id), str(pushed["2"]["_id"]))
    assert out.splitlines()[1].startswith(f"! run {run_id}: TAMPERED: metrics.json changed")
    code, _, err = cli("--mongo", url, "reproduce", str(run_id), "--force")
    assert code == 2 and f"refusing to reproduce run {run_id}: its record does not match" in err
    _, out, _ = cli("--mongo", url, "verify", "--all")
    assert out.splitlines()[0] == f"TAMPERED  run {run_id}: metrics.json changed"
    artifact = next(a for a in pushed["1"]["artifacts"] if a["name"] == "saved_model.zip")
    chunk = db.fs.chunks.find_one({"files_id": artifact["file_id"]})
    forged = bytes(chunk["data"][:-1]) + bytes([chunk["data"][-1] ^ 0xFF])  # same length
    db.fs.chunks.update_one({"_id": chunk["_id"]}, {"$set": {"data": forged}})
    code, out, _ = cli("--mongo", url, "verify", str(run_id))
    assert code == 1 and "CHANGED  artifact saved_model.zip changed" in out


# ------------------------------------------------------------------------------- archives


def _rewrite_archive(path: Path, edit) -> None:
    """Rewrite a .tar.gz archive with `edit(members)` applied and every header hash recomputed."""
    with tarfile.open(path) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}
    edit(members)
    header = json.loads(members["reproml-archive.json"])
    header["members"] = {
        name: hashlib.sha256(data).hexdigest()
        for name, data in members.items()
        if name != "reproml-archive.json"
    }
    members["reproml-archive.json"] = json.dumps(header).encode()
    with gzip.open(path, "wb") as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for name, data in sorted(members.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _forge_metrics(members: dict) -> None:
    metrics = json.loads(members["run/metrics.json"])
    metrics["eval.accuracy"]["values"][-1] = 0.99
    members["run/metrics.json"] = json.dumps(metrics).encode()


def test_an_archive_with_edited_metrics_and_rehashed_header_is_refused_on_import(
    sealed, store, tmp_path, new_mongo_db, cli
):
    archive = tmp_path / "run-1.tar.gz"
    assert cli("--store", sealed.store, "export", "1", "-o", archive)[0] == 0
    _rewrite_archive(archive, _forge_metrics)
    before = sorted(p.name for p in store.iterdir())
    lock = [".import.lock"]  # the store's import lock, made by every import
    code, _, err = cli("import", archive, "--store", store)
    assert code == 2
    assert "refused, its run does not match its seal: TAMPERED: metrics.json changed" in err
    assert sorted(p.name for p in store.iterdir()) == lock + before  # nothing added, no staging
    url, db = new_mongo_db("sealimport")
    code, _, err = cli("import", archive, "--mongo", url)
    assert code == 2 and "metrics.json changed" in err
    assert db.runs.count_documents({}) == 0


def test_a_resealed_forged_archive_needs_the_team_key(sealed, store, tmp_path, cli):
    archive = tmp_path / "run-1.tar.gz"
    assert cli("--store", sealed.store, "export", "1", "-o", archive)[0] == 0

    def forge_and_reseal(members: dict) -> None:
        _forge_metrics(members)
        staged = tmp_path / "forged"
        staged.mkdir()
        for name, data in members.items():
            if name.startswith("run/"):
                (staged / name[4:]).write_bytes(data)
            elif name.startswith("artifacts/"):
                (staged / name[10:]).write_bytes(data)
        seal_run_dir(staged)
        members["run/seal.json"] = (staged / SEAL_FILE).read_bytes()

    _rewrite_archive(archive, forge_and_reseal)
    code, _, err = cli("import", archive, "--store", store, "--public-key", sealed.public_key)
    assert code == 2 and "the seal is not signed, and a trusted key was given" in err
    # Without the key a re-hashed forgery is indistinguishable from a run (docs/guarantees.md).
    code, out, err = cli("import", archive, "--store", store)
    assert code == 0, err


def test_a_signed_archive_imports_with_its_seal_in_both_stores(
    sealed, store, tmp_path, new_mongo_db, cli
):
    archive = tmp_path / "run-1.zip"
    assert cli("--mongo", sealed.mongo_url, "export", "1", "-o", archive)[0] == 0
    code, out, err = cli("import", archive, "--store", store, "--public-key", sealed.public_key)
    assert code == 0, err
    new_id = out.split(" as run ")[1].split()[0]
    assert cli("--store", store, "verify", new_id, "--public-key", sealed.public_key)[0] == 0
    url, _ = new_mongo_db("sealzip")
    code, out, err = cli("import", archive, "--mongo", url, "--public-key", sealed.public_key)
    assert code == 0, err
    assert cli("--mongo", url, "verify", "1", "--public-key", sealed.public_key)[0] == 0


def test_a_tampered_run_is_neither_exported_nor_pushed(store, tmp_path, new_mongo_db, cli):
    _edit_metric(store / "1")
    code, _, err = cli("--store", store, "export", "1", "-o", tmp_path / "a.tar.gz")
    assert code == 2 and "not exported, it does not match its seal: TAMPERED: metrics.json" in err
    assert not (tmp_path / "a.tar.gz").exists()
    url, db = new_mongo_db("sealrefuse")
    code, out, err = cli("push", store, "--mongo", url)
    assert code == 2 and "run 1 not pushed, it does not match its seal: TAMPERED: metrics" in err
    assert db.runs.count_documents({}) == 0


def test_a_damaged_seal_or_a_bad_public_key_is_one_clear_line(sealed, store, tmp_path, cli):
    (store / "1" / SEAL_FILE).write_text("{")
    code, out, _ = cli("--store", store, "verify", "1")
    assert code == 1 and f"{store / '1' / SEAL_FILE}: not valid JSON" in out
    _, out, _ = cli("--store", store, "runs")
    assert "COMPLETED!" in out
    not_a_key = tmp_path / "key.pub"
    not_a_key.write_text("hello")
    code, out, err = cli("--store", store, "verify", "2", "--public-key", not_a_key)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"public key {not_a_key}: not a PEM public key" in err
    code, _, err = cli("--store", store, "verify", "2", "--public-key", sealed.private_key)
    assert code == 2 and "not a PEM public key" in err


# ------------------------------------------------------------------------ reproduce and compare


@pytest.mark.parametrize("force", [False, True])
def test_reproduce_refuses_a_tampered_run_even_with_force(store, cli, force):
    _edit_metric(store / "1")
    before = sorted(p.name for p in store.iterdir())
    code, out, err = cli("--store", store, "reproduce", "1", *(["--force"] if force else []))
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "reproml reproduce: error: refusing to reproduce run 1: its record does not match its seal "
        "(TAMPERED: metrics.json changed); --force does not apply to an edited record "
        "(`reproml verify 1` names every changed file)"
    ]
    assert sorted(p.name for p in store.iterdir()) == before  # nothing re-run nor recorded


def test_compare_marks_a_tampered_run_like_the_listings(store, cli):
    code, out, _ = cli("--store", store, "compare", "1", "2")
    assert code == 0 and "TAMPERED" not in out
    _edit_metric(store / "1")
    code, out, _ = cli("--store", store, "compare", "2", "1")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("compare run 2 ")
    assert lines[1] == (
        "! run 1: TAMPERED: metrics.json changed (`reproml verify 1` re-hashes every file)"
    )
    assert "TAMPERED" not in "\n".join(lines[2:])


# ------------------------------------------------------------------------------ verify --all


def test_verify_all_names_each_tampered_and_unsealed_finished_run(sealed, store, cli):
    code, out, _ = cli("--store", store, "verify", "--all")
    assert code == 1
    assert out.splitlines() == [
        "UNSEALED  run 3 (COMPLETED): recorded before sealing, or a store failed during the run",
        f"{store}: 1 problem(s) among 3 run(s) (2 sealed, 1 unsealed)",
    ]
    shutil.rmtree(store / "3")
    code, out, _ = cli("--store", store, "verify", "--all")
    assert code == 0 and out == f"{store}: OK, every finished run matches its seal (2 sealed)\n"
    # A team that requires its key: the unsigned run 2 fails.
    code, out, _ = cli("--store", store, "verify", "--all", "--public-key", sealed.public_key)
    assert code == 1 and out.splitlines()[0].startswith("TAMPERED  run 2: ")
    # An edited record, and a seal removed to hide an edit: both named.
    _edit_metric(store / "1")
    (store / "2" / SEAL_FILE).unlink()
    code, out, _ = cli("--store", store, "verify", "--all")
    assert code == 1
    assert out.splitlines() == [
        "TAMPERED  run 1: metrics.json changed",
        "UNSEALED  run 2 (FAILED): recorded before sealing, or a store failed during the run",
        f"{store}: 2 problem(s) among 2 run(s) (1 tampered, 1 unsealed)",
    ]
    # A running run is not sealed yet: counted, not judged.
    entry = json.loads((store / "2" / "run.json").read_text())
    entry["status"], entry["heartbeat"] = "RUNNING", entry["stop_time"]
    (store / "2" / "run.json").write_text(json.dumps(entry))
    code, out, _ = cli("--store", store, "verify", "--all")
    assert code == 1 and out.splitlines()[-1].endswith("(1 running, 1 tampered)")
    # A run the store cannot read is named too.
    (store / "2" / "run.json").write_text("{")
    code, out, _ = cli("--store", store, "verify", "--all")
    assert code == 1
    assert out.splitlines()[0].startswith(
        f"UNREADABLE  skipping corrupt run 2: {store / '2' / 'run.json'}: is not valid JSON"
    )
    assert out.splitlines()[-1] == (
        f"{store}: 2 problem(s) among 2 run(s) (1 tampered, 1 unreadable)"
    )


def test_verify_all_checks_a_mongo_store_and_wants_a_run_or_all(sealed, store, cli):
    code, out, _ = cli("--mongo", sealed.mongo_url, "verify", "--all")
    assert code == 0 and "OK, every finished run matches its seal (2 sealed)" in out
    for argv in (["verify"], ["verify", "1", "--all"]):
        code, out, err = cli("--store", store, *argv)
        assert code == 2 and out == ""
        assert err == (
            "reproml verify: error: give a RECORD_DIR or a RUN, or --all (every run of the store), not both\n"
        )
