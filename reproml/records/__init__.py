"""Raw rows -> sharded TFRecords + manifest -> tf.data: the records pipeline.

handler (FeatureHandler) -> features (to_feature) / example_codec (wire format) -> tfrecord_io
(framing) -> writer (write_records, atomic_write) -> manifest (schema, counts, sha256, fingerprint)
-> verify -> reader (dataset_from_records, input_fn; parse spec = spec.FeatureSpec from the
manifest). sources: row sources (npz, HDF5, image folders) and serialize_npz.
"""
