"""The version string of ersim (one home; ``sim.__version__`` and every manifest read it from here)."""

__version__ = "0.1.0"
