"""Training and evaluation of the embedded model: never imported by the service.

`monitor model train` and `monitor model eval` reach in here; serving (`monitor.model`) needs only
the stored weights.
"""
