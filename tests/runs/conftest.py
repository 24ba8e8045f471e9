"""Housekeeping tests use the toy runs of tests/cli (file store and a real MongoDB server)."""

from tests.cli.conftest import cli, no_mongo_env, store_copy, world  # noqa: F401
