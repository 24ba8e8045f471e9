"""The reader's tf.data functions are traced as written: AutoGraph converts none of them.

Conversion is a per-process cost (0.66 CPU-s measured per quick MNIST run) and AutoGraph caches
what it converted, so every read path is built in one fresh process, with AutoGraph's own log
(`tf.autograph.set_verbosity`) on; a user's function mapped in the same process must still be
converted, which shows the log names what it converts.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

PROGRAM = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import tensorflow as tf

    from tests.records.reading.tiny_records import write_tiny_records, without_record_index
    from reproml.records.reader import dataset_from_records, input_fn

    tf.autograph.set_verbosity(3, alsologtostdout=True)
    root = Path(sys.argv[1])
    plain, gzip, legacy = root / "plain", root / "gzip", root / "legacy"
    write_tiny_records(plain)
    write_tiny_records(gzip, compression="GZIP")
    write_tiny_records(legacy)
    without_record_index(legacy)  # read order 1: interleaved shards, parsed per batch
    for record_dir in (plain, gzip, legacy):
        for split, shuffle in (("train", True), ("test", False)):
            batches = input_fn(split, 4, record_dir, shuffle=shuffle, random_seed=1)()
            next(iter(batches))
        next(iter(dataset_from_records("test", record_dir)))  # single examples

    def users_own(x):  # Python control flow on a tensor: needs AutoGraph
        if x > 0:
            return x
        return -x

    print(next(iter(tf.data.Dataset.range(-2, 0).map(users_own))).numpy())
    """
)

READER_MODULES = ("reader", "whole_shards", "batch_decode", "spec", "as_written")


def _reader_names() -> set[str]:
    """The top-level names (functions, classes) defined in the reader's modules."""
    import importlib
    import inspect

    names = set()
    for module_name in READER_MODULES:
        module = importlib.import_module(f"reproml.records.{module_name}")
        for name, value in vars(module).items():
            is_own = getattr(value, "__module__", None) == module.__name__
            if is_own and (inspect.isfunction(value) or inspect.isclass(value)):
                names.add(name)
    return names


def test_no_reader_function_is_converted_by_autograph(tmp_path):
    program = tmp_path / "read_everything.py"  # a file: AutoGraph reads a function's source
    program.write_text(PROGRAM)
    out = subprocess.run(
        [sys.executable, str(program), str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    converted = re.findall(
        r"^Converted call: <(?:function|bound method) ([\w.<>]+)", out.stdout, re.M
    )
    first_names = {name.split(".")[0] for name in converted}
    assert "users_own" in first_names, "AutoGraph's log did not show the user's function"
    assert out.stdout.strip().splitlines()[-1] == "2"  # converted: |-2| through the `if`
    own = sorted(first_names & _reader_names())
    assert not own, f"AutoGraph converted the reader's functions {own}"
