"""Batches of serialized records -> batches of decoded features, each feature decoded where it is cheapest.

    batches of serialized records
      -> one tf.io.parse_example per batch; fixed-size features decoded per batch
      -> (only when an encoded image is read) unbatch -> images decoded one example at a
         time in a parallel, ordered map -> batch again (same batch boundaries)

Encoded images (`FeatureSpec.decodes_per_example`) have a different size per example, so a
batch of them can only be decoded by a loop; a ``tf.map_fn`` over the batch inside the
batch's map ran about 3x slower than the same decode in a ``tf.data`` map before batching
(docs/performance.md, benchmark 7). The map keeps the order (``deterministic=True``) and the
batches are regrouped exactly as they came in (every batch but the last is full), so the
elements are the same as a per-batch decode gives, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from reproml.lazy import lazy_import
from reproml.records.as_written import as_written
from reproml.records.spec import RAGGED_ENCODINGS, FeatureSpec, parse_spec

tf = lazy_import("tensorflow")


def per_example_keys(specs: Mapping[str, FeatureSpec]) -> list[str]:
    """Returns the keys of `specs` decoded one example at a time (encoded images)."""
    return [key for key, spec in specs.items() if spec.decodes_per_example]


def batch_parser(specs: Mapping[str, FeatureSpec], skip: list[str]) -> Callable[[tf.Tensor], dict]:
    """Returns a function parsing a batch of serialized records, decoding all but `skip`."""
    features = parse_spec(dict(specs))

    def parse(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
        parsed = tf.io.parse_example(serialized, features)
        return {
            key: value if key in skip else specs[key].decode(value) for key, value in parsed.items()
        }

    return as_written(parse)


def decode_batches(
    batches: tf.data.Dataset,
    specs: Mapping[str, FeatureSpec],
    batch_size: int,
    *,
    drop_remainder: bool = False,
    deterministic: bool = True,
    then: Callable[[dict[str, tf.Tensor]], object] | None = None,
) -> tf.data.Dataset:
    """Parse and decode a dataset of batches of serialized records (1-D string tensors).

    Args:
      batches: batches of at most `batch_size` serialized records, all but the last full.
      specs: the manifest's specs of the features to return.
      batch_size: the batches' size (used to regroup after a per-example decode).
      drop_remainder: whether `batches` dropped a short last batch (kept as it is).
      deterministic: keep the element order (always True for training input).
      then: a function of a decoded batch run last (e.g. picking features and labels), in
        the same map as the parse when nothing is decoded per example (one map, not two).

    Returns:
      Batches ``{key: tensor [B, ...]}`` (ragged features as ``tf.RaggedTensor``), or what
      `then` returns of them.
    """
    images = per_example_keys(specs)
    parse = batch_parser(specs, skip=images)
    if not images:
        return batches.map(
            parse if then is None else as_written(lambda serialized: then(parse(serialized))),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=deterministic,
        )
    parsed = batches.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    examples = _decoded_per_example(parsed.unbatch(), specs, images, deterministic)
    if any(spec.encoding in RAGGED_ENCODINGS for spec in specs.values()):
        # a ragged feature is dense [n, ...] per example: batched back into a RaggedTensor
        decoded = examples.ragged_batch(batch_size, drop_remainder=drop_remainder)
    else:
        decoded = examples.batch(batch_size, drop_remainder=drop_remainder)
    if then is None:
        return decoded
    return decoded.map(
        as_written(then), num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic
    )


def _decoded_per_example(
    examples: tf.data.Dataset,
    specs: Mapping[str, FeatureSpec],
    images: list[str],
    deterministic: bool,
) -> tf.data.Dataset:
    """Decode the `images` features of single parsed examples in a parallel map."""

    def decode(example: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        return {
            key: specs[key].decode(value) if key in images else value
            for key, value in example.items()
        }

    return examples.map(
        as_written(decode), num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic
    )


def decode_examples(
    groups: tf.data.Dataset, specs: Mapping[str, FeatureSpec], deterministic: bool = True
) -> tf.data.Dataset:
    """Single decoded examples of a dataset of groups of serialized records (1-D strings).

    Each group (e.g. a whole shard) is parsed with one `tf.io.parse_example` and its
    fixed-size features decoded at once; then the examples are taken one at a time, and
    encoded images decoded in a parallel, ordered map (as `decode_batches` does).
    """
    images = per_example_keys(specs)
    parse = batch_parser(specs, skip=images)
    examples = groups.map(
        parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic
    ).unbatch()
    return _decoded_per_example(examples, specs, images, deterministic) if images else examples
