"""Exceptions raised by reproml. Every message names what is wrong and what was expected.

Every exception class of reproml is here (the layers below all others may raise any of them);
the modules that raise one say when in their docstrings.

`ReproMLError` is a Sacred `SacredError` that asks for no traceback: when one is raised by a
config hook, a command or a run started from Sacred's command line, the user sees its one-line
message (Sacred's public way for an error to say "this is the user's to fix, not a bug").
"""

from __future__ import annotations

import os
from typing import Any

from sacred.utils import SacredError


class ReproMLError(SacredError):
    """Base class of every error reproml raises on purpose (shown as one line, no traceback)."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message, print_traceback=False, filter_traceback="always")

    def __reduce__(self) -> tuple:
        # Exceptions are pickled as (class, args); ours take other arguments, so rebuild a
        # plain error of the same class from the message (e.g. across worker processes).
        return (_rebuild, (type(self), str(self), dict(self.__dict__)))


def _rebuild(cls: type, message: str, state: dict) -> ReproMLError:
    error = cls.__new__(cls)
    ReproMLError.__init__(error, message)
    error.__dict__.update(state)
    return error


class HandlerError(ReproMLError, ValueError):
    """A value a handler cannot encode: names the key, and the split and row once known.

    Handlers raise it with the key, what they expected and what they got; `write_records`
    adds the split and row index with `at_row` before re-raising, so the final message reads
    ``split 'train', row 17, key 'image': expected shape (28, 28), got (27, 28)``.
    """

    def __init__(
        self,
        key: str,
        expected: str,
        got: str,
        *,
        split: str | None = None,
        row: int | None = None,
    ) -> None:
        self.key, self.expected, self.got, self.split, self.row = key, expected, got, split, row
        where = []
        if split is not None:
            where.append(f"split {split!r}")
        if row is not None:
            where.append(f"row {row}")
        where.append(f"key {key!r}")
        super().__init__(f"{', '.join(where)}: expected {expected}, got {got}")

    def at_row(self, split: str | None, row: int) -> HandlerError:
        """Returns the same error located at `row` of `split`."""
        return HandlerError(self.key, self.expected, self.got, split=split, row=row)


class RecordError(ReproMLError):
    """A record file or manifest that is missing, corrupt or does not match: names the file."""

    def __init__(self, path: str, problem: str, fix: str | None = None) -> None:
        self.path, self.problem, self.fix = str(path), problem, fix
        message = f"{path}: {problem}"
        if fix:
            message += f". {fix}"
        super().__init__(message)


class ConfigError(ReproMLError, ValueError):
    """A configuration entry with a value that cannot work: names the entry."""

    def __init__(self, entry: str, expected: str, got: object) -> None:
        self.entry, self.expected, self.got = entry, expected, got
        super().__init__(f"config entry {entry!r}: expected {expected}, got {got!r}")


class UnknownConfigEntryError(ConfigError):
    """A config entry the experiment does not have (a typo): names it and the closest entries."""

    def __init__(self, entry: str, got: object, suggestions: list[str]) -> None:
        hint = f"did you mean {' or '.join(map(repr, suggestions))}? " if suggestions else ""
        expected = f"an entry of this experiment ({hint}print_config lists them all)"
        super().__init__(entry, expected, got)
        self.suggestions = suggestions


class DownloadError(RecordError):
    """A download that failed or whose content does not have the expected sha256: names the url."""


class ChecksumMismatchError(DownloadError):
    """A downloaded file whose sha256 is not the expected one (it was not cached)."""


class BoardError(ReproMLError):
    """The dashboard cannot start: the one line says what is missing and what to do."""


class RecordsInUseError(RecordError):
    """A rewrite of a record directory that a live run reads: names the run.

    Attributes:
      readers: the live leases (their JSON), oldest first.

    Args:
      record_dir: the record directory.
      readers: the live leases.
      who: the readers, one description each joined by ``"; "`` (names the runs).
    """

    def __init__(
        self, record_dir: str | os.PathLike, readers: list[dict[str, Any]], who: str
    ) -> None:
        self.readers = readers
        super().__init__(
            record_dir,
            f"these records are being read by {who}",
            "Wait for it or stop it; rewriting them now would change the data under that run",
        )


class TrialFailed(ReproMLError):
    """A trial's run did not complete (the message names its log)."""


class SerializationMismatchError(RecordError):
    """A record directory serialized from another config than the run's: names each entry.

    Attributes:
      differences: ``{entry: (value in the manifest, value in this run's config)}``.
    """

    def __init__(
        self,
        manifest_path: str | os.PathLike,
        differences: dict[str, tuple],
        path: str,
        owner: str = "",
    ) -> None:
        self.differences = differences
        self.owner = owner
        listed = "; ".join(
            f"{entry}={recorded!r} there, {wanted!r} in this run"
            for entry, (recorded, wanted) in differences.items()
        )
        whose = f" ({owner})" if owner else ""
        super().__init__(
            manifest_path,
            f"these records{whose} were serialized from another config ({listed})",
            f"Use another {path}.data_dir, or {path}.overwrite_records=True to replace them "
            "(they are deleted: runs bound to their fingerprint can no longer be reproduced "
            "from this directory)",
        )


class SourceChangedError(RecordError):
    """Records whose source (data file, image folder) changed since they were serialized.

    Attributes:
      change: what changed, one line (`reproml.records.source_fingerprint.source_changes`).
    """

    def __init__(
        self, manifest_path: str | os.PathLike, change: str, path: str, owner: str = ""
    ) -> None:
        self.change = change
        whose = f" ({owner})" if owner else ""
        super().__init__(
            manifest_path,
            f"the source of these records{whose} changed since they were serialized: {change}",
            f"Use {path}.overwrite_records=True to serialize them again from the source as it is "
            f"now (or another {path}.data_dir)",
        )


class DataContractError(RecordError):
    """A record set whose features a model cannot take: names the feature and both sides.

    A `RecordError` (``path`` is the manifest when known), with the one-line message
    ``records feature 'image' (<manifest>) holds <what>; the <model> expects <what> (<fix>)``.
    """

    def __init__(
        self, key: str, holds: str, expects: str, fix: str | None, path: str | None = None
    ) -> None:
        where = f" ({path})" if path else ""
        problem = f"records feature {key!r}{where} {holds}; the {expects}"
        message = problem + (f" ({fix})" if fix else "")
        self.key, self.path, self.problem, self.fix = key, str(path or ""), problem, fix
        Exception.__init__(self, message)


class ProjectionError(ReproMLError):
    """A projection that cannot be computed (unknown method, too few points)."""


class CliError(ReproMLError):
    """A command that cannot do what was asked; the message is the one line the user sees."""


class MongoUnreachableError(ReproMLError):
    """MongoDB did not answer (or the target is not a MongoDB address); names the host."""


class MongoAuthenticationError(MongoUnreachableError):
    """MongoDB answered but refused the credentials; names the host and the user."""


class SigningKeyError(ReproMLError):
    """A key file that is missing, unreadable or not an Ed25519 key (the message names it)."""


class TamperedRunError(CliError):
    """A run that no longer matches its seal, refused by a push (the message names what changed)."""


class UnsafeNameError(CliError):
    """A name from an archive or a stored record that is not a plain name inside its run."""


class SealError(ReproMLError):
    """A seal that cannot be written or read (the message names the run and the file)."""
