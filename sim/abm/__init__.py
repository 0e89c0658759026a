"""Agent-based engine: persons, households and dwellings as arrays, stepped by numba kernels.

``run_abm(inputs, runs, seed, workers)`` runs Monte Carlo replicates of ``AbmModel`` (a
``mesa.Model``) and returns an ``AbmResult`` with the cohort engine's tables plus a ``run``
column; ``write_abm`` stages them in a ``sim.io.ResultWriter``. The plain-mesa reference model
(one agent per person) is ``sim.abm.reference.ReferenceModel``.
"""
