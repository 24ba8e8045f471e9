"""Stored runs, on both stores.

One run schema (`record.RunRecord`), the file store and MongoDB readers, the one MongoDB client
module (`mongo`), the code state a run records and reproduce checks (`code_state`), credential
scrubbing (`scrub`) and `push` (replay into MongoDB).
"""
