"""The Reproducible-ML docs' public names are importable from `reproml`, lazily."""

import inspect
import subprocess
import sys

import pytest

import reproml


@pytest.mark.parametrize("name", reproml.__all__)
def test_public_name_is_the_module_object(name):
    module = __import__(reproml._PUBLIC[name], fromlist=[name])
    assert getattr(reproml, name) is getattr(module, name)


def test_docs_signatures_are_kept():
    assert list(inspect.signature(reproml.FeatureHandler).parameters)[:2] == [
        "delegate_to",
        "shape",
    ]
    assert list(inspect.signature(reproml.FeatureHandler.handle).parameters) == [
        "self",
        "row",
        "key",
    ]
    assert list(inspect.signature(reproml.write_records).parameters)[:6] == [
        "record_dir",
        "record_pattern",
        "keys_to_handlers",
        "samples_per_record",
        "split_to_size",
        "rows_gen",
    ]
    assert list(inspect.signature(reproml.serialize_npz).parameters)[:2] == ["npz_file", "key"]
    assert list(inspect.signature(reproml.shuffle_repeat_prefetch).parameters) == [
        "dataset",
        "buffer_size",
        "n_epochs",
        "random_seed",
    ]


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        reproml.nope  # noqa: B018


def test_importing_reproml_does_not_import_tensorflow():
    code = "import sys, reproml; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
