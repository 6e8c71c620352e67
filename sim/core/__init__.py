"""The ground floor: errors, units, pollutants, the pure engine and sampling. Imports nothing above it."""
