"""Reporting stage (``docs/reporting.md``): meter points, meter data agents, versioned
readings and baseline methodologies; verification per instruction-period, settlement runs
(chords of meter shards), statements, invoices and disputes (``settlement_*``,
``verification``, ``disputes``). The pure engine that verifies and settles is
``settlement/``."""
