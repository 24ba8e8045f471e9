"""Checking a model_dir's checkpoint before an Estimator restores it.

An Estimator restores the latest checkpoint of its model_dir silently when it trains, evaluates,
predicts or exports. A damaged checkpoint then ends in a long TensorFlow traceback that does not
name the file, a checkpoint of another model (other image shape or number of classes) in a
"Shape mismatch" traceback, and an unreadable or dangling ``checkpoint`` state file makes it
silently start from scratch. `check_checkpoint` reads the checkpoint first and turns each case
into one line naming the file and what to do.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from reproml.errors import RecordError
from reproml.lazy import lazy_import

tf = lazy_import("tensorflow")

_FRESH_START = (
    "Use another model_dir to train from scratch, or restore the checkpoint files from a backup"
)


def _first_line(err: BaseException, directory: Path) -> str:
    """TensorFlow's reason, on one line, with the (already named) directory left out."""
    text = str(getattr(err, "message", "") or err).replace(f"{directory}{os.sep}", "")
    lines = text.strip().splitlines()
    return lines[0][:200] if lines else type(err).__name__


def latest_checkpoint(model_dir: str | os.PathLike) -> str | None:
    """Return the prefix of `model_dir`'s latest checkpoint, or None if it has never saved one.

    Raises:
      RecordError: the ``checkpoint`` state file is unreadable, or names a checkpoint whose
        ``.index`` file is missing (TensorFlow would silently start from scratch).
    """
    model_dir = Path(model_dir)
    state_file = model_dir / "checkpoint"
    if not state_file.exists():
        return None
    state = tf.train.get_checkpoint_state(str(model_dir))
    if state is None or not state.model_checkpoint_path:
        raise RecordError(
            state_file,
            "is not a readable checkpoint state file (TensorFlow would ignore it and start "
            "from scratch)",
            "Delete it to train from scratch, or restore model_dir from a backup",
        )
    prefix = state.model_checkpoint_path  # TensorFlow has joined a relative one to model_dir
    if not Path(prefix + ".index").is_file():
        raise RecordError(
            state_file,
            f"names the checkpoint {Path(prefix).name!r}, but {Path(prefix).name}.index is missing",
            _FRESH_START,
        )
    return prefix


def checkpoint_step(model_dir: str | os.PathLike) -> int:
    """Return the global step of `model_dir`'s latest checkpoint (0 if it has none yet).

    Raises:
      RecordError: as `latest_checkpoint`.
    """
    prefix = latest_checkpoint(model_dir)
    return 0 if prefix is None else int(tf.train.load_variable(prefix, "global_step"))


def checkpoint_shapes(prefix: str) -> dict[str, tuple[int, ...]]:
    """Return ``{variable name: shape}`` of the checkpoint `prefix`, after reading every tensor.

    Every tensor is read, so a truncated or corrupted ``.data`` shard (TensorFlow checks each
    tensor's checksum) is found here rather than in the middle of a restore.

    Raises:
      RecordError: the ``.index`` or a ``.data`` file cannot be read; names the file.
    """
    index, directory = prefix + ".index", Path(prefix).parent
    try:
        reader = tf.train.load_checkpoint(prefix)
        shapes = reader.get_variable_to_shape_map()
    except (tf.errors.OpError, ValueError, IndexError) as err:
        reason = _first_line(err, directory)
        raise RecordError(
            index, f"is not a readable checkpoint index ({reason})", _FRESH_START
        ) from err
    for name in sorted(shapes):
        try:
            reader.get_tensor(name)
        except (tf.errors.OpError, ValueError, IndexError) as err:
            shards = sorted(directory.glob(Path(prefix).name + ".data-*"))
            where = str(shards[0]) if len(shards) == 1 else prefix + ".data-*"
            reason = _first_line(err, directory)
            raise RecordError(
                where,
                f"is truncated or corrupt: variable {name!r} cannot be read ({reason})",
                _FRESH_START,
            ) from err
    return {name: tuple(int(d) for d in shape) for name, shape in shapes.items()}


def check_checkpoint(
    model_dir: str | os.PathLike,
    expected_shapes: Mapping[str, Sequence[int]]
    | Callable[[], Mapping[str, Sequence[int]]]
    | None = None,
    described_as: str = "this model",
) -> None:
    """Refuse, in one line, a model_dir whose latest checkpoint cannot be restored.

    Nothing is checked when model_dir has no checkpoint yet (a fresh training).

    Args:
      model_dir: the Estimator's model_dir.
      expected_shapes: ``{variable name: shape}`` of the model about to restore it (or a
        function returning it, called only when there is a checkpoint); variables of the
        checkpoint with the same name must have the same shape. None checks only readability.
      described_as: how the model is named in the mismatch message, e.g.
        "the classifier for image_shape [14, 14, 1], num_classes 3".

    Raises:
      RecordError: the ``checkpoint`` state file is unreadable or dangling, a checkpoint file
        is truncated or corrupt (the message names it), or the checkpoint was made for a model
        with other variable shapes (another image shape or number of classes).
    """
    prefix = latest_checkpoint(model_dir)
    if prefix is None:
        return
    stored = checkpoint_shapes(prefix)
    if expected_shapes is None:
        return
    expected = expected_shapes() if callable(expected_shapes) else expected_shapes
    common = [name for name in sorted(expected) if name in stored]
    if not common and expected:
        raise RecordError(
            prefix,
            f"holds none of the variables of {described_as} (e.g. {sorted(expected)[0]!r}); "
            "it was made by another model",
            "Use another model_dir for this model",
        )
    missing = [name for name in sorted(expected) if name not in stored]
    if missing:
        raise RecordError(
            prefix,
            f"was made for another model: it lacks variable {missing[0]!r} of {described_as}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
            "Use another model_dir, or the params the checkpoint was trained with",
        )
    mismatched = [name for name in common if stored[name] != tuple(int(d) for d in expected[name])]
    if mismatched:
        name = mismatched[0]
        more = f" (and {len(mismatched) - 1} more)" if len(mismatched) > 1 else ""
        raise RecordError(
            prefix,
            f"was made for another model: variable {name!r} is {list(stored[name])} in the "
            f"checkpoint, {described_as} needs {[int(d) for d in expected[name]]}{more}",
            "Use another model_dir, or the records and params the checkpoint was trained with",
        )
