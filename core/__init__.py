"""The leaf of callqa: domain types, settings and small shared helpers.

Everything else imports from here; nothing here imports speech/, analysis/, warehouse/,
flows/ or callqa/ (tests/test_layers.py reads the imports and keeps it so).
"""
