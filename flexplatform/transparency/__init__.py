"""Transparency stage (regulator reports, open data, advice): filled by a later issue."""
