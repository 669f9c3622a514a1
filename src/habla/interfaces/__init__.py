"""Channels: the edges that parse input, call the engine and render its events.

Nothing imports this package. Each channel receives a :class:`~habla.runtime.Runtime`
and never builds a backend or store itself.
"""
