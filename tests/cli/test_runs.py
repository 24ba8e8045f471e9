from __future__ import annotations


def test_runs_lists_one_line_per_run_with_status_and_result(world, cli):
    code, out, err = cli("--store", world.store, "runs")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["id", "experiment", "status", "start", "duration", "result", "tags"]
    body = [line.split() for line in lines[2:]]
    assert [row[0] for row in body] == ["1", "2", "3", "4"]
    assert [row[1] for row in body] == ["toy", "toy", "toy_gan", "toy"]
    assert [row[2] for row in body] == ["COMPLETED", "COMPLETED", "COMPLETED", "FAILED"]
    result_1 = float(body[0][-2])
    assert 0.0 <= result_1 <= 1.0
    assert body[3][-2] == "-"  # a failed run has no result
    assert [row[-1] for row in body] == ["-", "-", "-", "-"]  # no tags yet


def test_runs_filters_by_status_and_experiment(world, cli):
    _, out, _ = cli("--store", world.store, "runs", "--status", "failed")
    assert [line.split()[0] for line in out.splitlines()[2:]] == ["4"]
    _, out, _ = cli("--store", world.store, "runs", "--experiment", "toy_gan")
    assert [line.split()[0] for line in out.splitlines()[2:]] == ["3"]


def test_runs_reads_the_same_runs_from_mongodb(world, cli, no_mongo_env):
    _, file_out, _ = cli("--store", world.store, "runs")
    code, mongo_out, err = cli("--mongo", world.mongo_url, "runs")
    assert code == 0, err
    # Same ids, experiments, statuses and results; times agree to the second.
    assert mongo_out == file_out


def test_mongo_url_comes_from_the_environment(world, cli, no_mongo_env, monkeypatch):
    monkeypatch.setenv("REPROML_MONGO_URL", world.mongo_url)
    code, out, _ = cli("--store", "/nonexistent", "runs")
    assert code == 0
    assert len(out.splitlines()) == 2 + 4
