"""OpenADR 2.0b: a VTN inside the platform so FSPs' control systems (VENs) receive their
dispatch instructions as events and answer them with opt-in/opt-out, and send telemetry
and half-hour energy reports back (docs/openadr.md).

The VTN is a separate process (``flexplatform vtn``) built on openleadr; it keeps no state
of its own beyond what is in the database, so it can be restarted at any time: every
instruction that has been sent but not answered is queued again on start.
"""
