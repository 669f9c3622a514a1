"""Model backends behind one protocol (:class:`habla.backends.base.Backend`).

Concrete backends import their third-party libraries lazily so that a missing extra
only matters when that backend is configured.
"""
