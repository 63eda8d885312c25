"""Search jobs: a job with ``search:`` runs Optuna trials through hydraflow's own pool.

- ``hydraflow.sweep.space`` (beside the sweep syntax it reuses, as the file's reader
  parses it): the ``space:`` grammar into plain dimensions.
- ``study``: Optuna's side (storage, samplers, ask and tell), imported only by a search.
- ``trials``: the trials as batches the pool pulls when a slot frees, told as they end.

Nothing here imports Optuna at the top: ``invoke --list`` and grid jobs never pay for it.
"""
