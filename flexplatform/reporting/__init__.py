"""Reporting stage: meter points, meter data agents, versioned readings and baseline
methodologies (this package; ``docs/reporting.md``); the pure engine that verifies and
settles is ``settlement/``."""
