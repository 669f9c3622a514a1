"""Rate limits and token/cost quotas per habla user, the same for every channel.

:mod:`habla.limits.policy` says what a user may spend (:class:`LimitPolicy`,
:class:`PriceTable`, :class:`LimitsConfig`); :mod:`habla.limits.base` defines the
:class:`Limiter` protocol (``admit`` → ``settle``, ``snapshot``) and its window semantics;
:mod:`habla.limits.memory` enforces it in one process and :mod:`habla.limits.redis`
across replicas. Nothing here knows about HTTP or chat: the engine calls the limiter.
"""
