"""reproml.runs.mongo: one way to name, parse and reach a MongoDB, for live runs and the CLI."""

import socket
import time

import pytest

from reproml.runs.mongo import MongoTarget, connect, target_from_flag, target_from_url
from reproml.errors import MongoAuthenticationError, MongoUnreachableError


@pytest.mark.parametrize(
    ("flag", "url", "db"),
    [
        ("mydb", "mongodb://localhost:27017", "mydb"),
        ("10.0.0.2:27018", "mongodb://10.0.0.2:27018", "sacred"),  # Sacred's default db
        ("host.x:27017:runsdb", "mongodb://host.x:27017", "runsdb"),
    ],
)
def test_m_flag_forms_mean_what_they_mean_to_sacred(flag, url, db):
    target = target_from_flag(flag)
    assert (target.url, target.db_name) == (url, db)


def test_a_malformed_m_flag_is_one_clear_error():
    with pytest.raises(MongoUnreachableError, match="expected DB, HOST:PORT or HOST:PORT:DB"):
        target_from_flag("host:notaport:db:x")


def test_url_db_defaults_to_reproml_and_display_hides_credentials():
    target = target_from_url("mongodb://u:pw@h1:27017")
    assert target.db_name == "reproml"
    assert target.display == "h1:27017/reproml"
    with pytest.raises(MongoUnreachableError, match="REPROML_MONGO_URL 'http://u:\\*\\*\\*@h1/x'"):
        target_from_url("http://u:pw@h1/x")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_mongo_fails_fast_naming_the_host():
    port = _closed_port()
    start = time.monotonic()
    with pytest.raises(MongoUnreachableError) as info:
        connect(MongoTarget(f"mongodb://u:hunter2@127.0.0.1:{port}", "db", "test"), 1500)
    assert time.monotonic() - start < 10
    assert f"127.0.0.1:{port}" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_connect_reaches_the_real_server(mongo_db):
    url, db = mongo_db
    reached = connect(target_from_url(url, "--mongo"))
    reached.runs.insert_one({"_id": 1})
    assert db.runs.find_one({"_id": 1}) == {"_id": 1}


@pytest.fixture
def mongo_user(mongo_server):
    """A user ``(url without credentials, name, password)`` created on the real server."""
    import uuid

    import pymongo

    name, password = f"u{uuid.uuid4().hex[:8]}", "right-password"
    client = pymongo.MongoClient(mongo_server, serverSelectionTimeoutMS=5000)
    client.admin.command("createUser", name, pwd=password, roles=["root"])
    yield mongo_server, name, password
    client.admin.command("dropUser", name)
    client.close()


def _with_credentials(url: str, user: str, password: str) -> str:
    return url.replace("mongodb://", f"mongodb://{user}:{password}@", 1) + "/db?authSource=admin"


def test_a_wrong_password_is_named_as_refused_credentials_not_an_address(mongo_user):
    server, user, _ = mongo_user
    target = target_from_url(_with_credentials(server, user, "wrong-password"), "--mongo")
    with pytest.raises(MongoAuthenticationError) as info:
        connect(target)
    assert str(info.value) == (
        f"MongoDB at {target.hosts} refused the credentials for user {user} (authentication "
        "failed; from --mongo): fix the user name, password or authSource in the URL"
    )
    assert "wrong-password" not in str(info.value) and "could not reach" not in str(info.value)


def test_the_right_password_connects(mongo_user):
    server, user, password = mongo_user
    assert connect(target_from_url(_with_credentials(server, user, password))).name == "db"


def test_an_unknown_user_is_refused_credentials_in_one_cli_line(mongo_user, capsys):
    from reproml.cli.main import main

    server, _, _ = mongo_user
    url = _with_credentials(server, "nobody", "pw-of-nobody")
    assert main(["--mongo", url, "runs"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1
    assert "refused the credentials for user nobody (authentication failed" in err
    assert "pw-of-nobody" not in err


def test_a_live_run_with_a_wrong_password_is_refused_before_it_records(
    mongo_user, tmp_path, monkeypatch
):
    from sacred import Experiment

    from reproml.tracking import experiment as rx

    server, user, _ = mongo_user
    monkeypatch.setenv("REPROML_MONGO_URL", _with_credentials(server, user, "wrong-password"))
    ex = rx.track(Experiment("auth"), record_code_state=False)
    ex.main(lambda: 1)
    with pytest.raises(MongoAuthenticationError, match=f"credentials for user {user} "):
        ex.run(options={"--runs_dir": str(tmp_path / "runs")})
    assert not (tmp_path / "runs").exists()  # nothing recorded anywhere
