"""Deterministic cohort-component engine (numba kernels); equations in METHOD.md."""
