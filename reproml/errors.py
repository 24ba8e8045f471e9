"""Exceptions raised by reproml. Every message names what is wrong and what was expected.

`ReproMLError` is a Sacred `SacredError` that asks for no traceback: when one is raised by a
config hook, a command or a run started from Sacred's command line, the user sees its one-line
message (Sacred's public way for an error to say "this is the user's to fix, not a bug").
"""

from __future__ import annotations

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


class DownloadError(RecordError):
    """A download that failed or whose content does not have the expected sha256: names the url."""


class ChecksumMismatchError(DownloadError):
    """A downloaded file whose sha256 is not the expected one (it was not cached)."""
