"""Analyses over runs: compare, solve, sweep, sensitivity, batch."""
