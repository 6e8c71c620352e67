"""Runs and other outputs on disk: one writer, one reader."""
