"""Training on TensorFlow's cluster runtime: TF_CONFIG, strategies, input shards, a local launcher.

tf_config (who am I in the cluster: `is_chief`, `cluster_task`; no TensorFlow import) ->
distribution (strategy, `shard_files`, `cluster_info`) -> launcher (`reproml launch`).
Nothing here imports models, runs, tracking or sweep: `reproml.models.determinism` builds the
`RunConfig` from the strategy, `reproml.runs.reproducibility` says how a re-run is compared.
"""

from reproml.cluster.tf_config import ClusterTask, cluster_task, is_chief

__all__ = ["ClusterTask", "cluster_task", "is_chief"]
