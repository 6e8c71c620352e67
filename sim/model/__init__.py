"""Inputs: scenarios, inventories, coefficients, measure types, targets; compiled into engine arrays."""
