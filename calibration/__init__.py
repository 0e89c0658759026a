"""Calibration and validation: fitting rates to SSB data and the seeds, back-tests."""
