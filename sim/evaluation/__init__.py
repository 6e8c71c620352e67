"""Orchestration: a compiled model through the engine into a labelled Result."""
