"""Credentials in any URL form a run records are masked in every store it is recorded in: git
remotes with a user and password or a bare token, a data URL's ``?token=`` and a MongoDB URL's
password, in the file store and in a real MongoDB-protocol server. (That environment variables
are not recorded is tested in tests/tracking/test_guarded_observer.py.)"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import gridfs

from tests.integrity.project import git, make_project


def _secret(kind: str) -> str:
    # Built at run time: no secret is written into a file a run could store as a source.
    return f"{kind}{uuid.uuid4().hex}"


def _everything_in_mongo(db) -> str:
    parts = [json.dumps(list(db.runs.find()), default=str)]
    parts.append(json.dumps(list(db.metrics.find()), default=str))
    fs = gridfs.GridFS(db)
    for entry in db["fs.files"].find():
        parts.append(entry["filename"])
        parts.append(fs.get(entry["_id"]).read().decode("utf-8", "replace"))
    return "\n".join(parts)


def _everything_in_files(root: Path) -> str:
    return "\n".join(
        f"{path}\n{path.read_bytes().decode('utf-8', 'replace')}"
        for path in sorted(root.rglob("*"))
        if path.is_file()
    )


def test_url_credentials_are_masked_in_the_file_store_and_mongodb(tmp_path, mongo_db):
    url, db = mongo_db
    user_password, bare_token = _secret("pw"), _secret("ghp")
    data_token, db_password = _secret("dt"), _secret("mp")
    project = make_project(tmp_path)
    git(
        project.repo, "remote", "add", "origin", f"https://me:{user_password}@git.example.com/r.git"
    )
    # A nested checkout (a vendored library) whose remote carries a bare access token.
    vendor = project.repo / "vendor"
    vendor.mkdir()
    (vendor / "lib.py").write_text('"""A vendored library."""\n')
    git(vendor, "init", "-q", "-b", "main")
    git(vendor, "config", "user.name", "Tester")
    git(vendor, "config", "user.email", "tester@example.com")
    git(vendor, "add", "lib.py")
    git(vendor, "commit", "-q", "-m", "lib")
    git(vendor, "remote", "add", "origin", f"https://{bare_token}@git.example.com/v.git")
    with open(project.repo / "helpers.py", "a") as f:
        f.write("import vendor.lib  # noqa: E402, F401\n")

    data_url = f"https://data.example.com/mnist.npz?token={data_token}&split=train"
    mongo_url = f"mongodb://bob:{db_password}@db.example.com:27017/team"
    proc = project.run_tiny(
        "with",
        f"record_dir={project.record_dir}",
        f"data_url={data_url}",
        f"mongo_url={mongo_url}",
        env=project.env(REPROML_MONGO_URL=url),
    )
    assert proc.returncode == 0, proc.stderr
    assert db.runs.find_one()["status"] == "COMPLETED"

    masked = [
        "https://me:***@git.example.com/r.git",
        "https://***@git.example.com/v.git",
        "https://data.example.com/mnist.npz?token=***&split=train",
        "mongodb://bob:***@db.example.com:27017/team",
    ]
    for store, recorded in (
        ("file store", _everything_in_files(project.runs)),
        ("MongoDB", _everything_in_mongo(db)),
    ):
        for secret in (user_password, bare_token, data_token, db_password):
            assert secret not in recorded, f"{store} holds a credential"
        for expected in masked:
            assert expected in recorded, f"{store} lacks {expected}"
    assert f"data from {masked[2]}, db {masked[3]}" in (project.runs / "1" / "cout.txt").read_text()
