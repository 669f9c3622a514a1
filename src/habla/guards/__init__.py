"""Guards: checks on what goes into a model and what comes out of it.

:mod:`habla.guards.base` defines the protocol, :mod:`habla.guards.limits` the input limits
every request passes first, :mod:`habla.guards.pipeline` the order they run in.
"""
