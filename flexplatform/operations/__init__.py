"""Operations stage (``docs/operations.md``): after the contract, before the meter.

``availability`` (declarations, locks, availability factor), ``requests`` (utilisation
calls on contracted needs), ``runs`` (dispatch snapshots for ``optimiser.dispatch``, stored
results), ``instructions`` (acknowledgement, expiry, re-dispatch), ``conflicts`` (per event
and by scan); ``rules`` reads each product's operations data; ``service`` is what other
stages call (settlement reads the availability factor and the instructions here)."""
