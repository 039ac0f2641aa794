"""Collection-rule profiles as data (``<name>.yaml``), read by core.settings: ``[compliance] profile``."""
