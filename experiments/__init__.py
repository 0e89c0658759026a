"""Experiments: scenario and sweep files, the sweep runner and reports."""
