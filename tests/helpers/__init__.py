"""Builders and utilities shared by several test modules (no tests here).

Test modules import from ``tests.helpers.*``; no test module imports another test module.
"""
