"""callqa: speech analytics for recorded debt-collection calls."""

__version__ = "0.1.0"
