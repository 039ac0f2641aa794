"""Warehouse: the only package that opens DuckDB. Numbered SQL migrations live in migrations/."""
import logging

logger = logging.getLogger("warehouse")
