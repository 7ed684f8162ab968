"""Reporting stage (metering, verification, settlement, disputes): the pure engine lives in
``settlement/``; storage and routes are filled by a later issue."""
