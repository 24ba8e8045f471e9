"""Tests of reproml.records: io (codec, framing, atomic writes), reading (input_fn), writing (write_records, sources)."""
