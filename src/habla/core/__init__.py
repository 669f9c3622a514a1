"""Core values shared by every layer: messages, stream events, options, usage, errors.

Depends on the standard library and pydantic only; holds no I/O and no state.
"""
