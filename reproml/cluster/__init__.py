"""Training on TensorFlow's cluster runtime: TF_CONFIG, strategies, input shards, a local launcher.

tf_config (who am I in the cluster: `is_chief`, `cluster_task`; no TensorFlow import) ->
distribution (strategy, `run_config_for_cluster`, `shard_files`, `cluster_info`) ->
reproducibility (how a re-run is compared, per strategy) -> launcher (`reproml launch`).
"""

from reproml.cluster.tf_config import ClusterTask, cluster_task, is_chief

__all__ = ["ClusterTask", "cluster_task", "is_chief"]
