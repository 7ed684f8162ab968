"""Transparency stage: what the regulator, the public and FSPs learn from the records.

Reports (``docs/transparency.md``): ``carbon`` (intensity import), ``facts`` (the records
read once as columns), ``reports`` (carbon and market reports), ``exports`` (CSV, SVG),
``opendata`` (public datasets, suppressed below a number of FSPs). Monitoring and advice
(``docs/monitoring.md``): ``monitoring_rules`` and ``monitoring`` (flags with evidence),
``ratings`` (feeding asset reliability), ``advice`` (the advice MILP for an asset or a
prospective one, opportunity alerts)."""
