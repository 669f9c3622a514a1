"""Accounts: who is calling and what they may do.

* :mod:`habla.auth.passwords` - argon2id hashing and the rule for new passwords;
* :mod:`habla.auth.api_keys` - ``hbl_<prefix>_<secret>`` keys, stored as sha256;
* :mod:`habla.auth.tokens` - HS256 session JWTs, algorithm pinned, ``exp`` required;
* :mod:`habla.auth.throttle` - sign-in throttling per account and per address;
* :mod:`habla.auth.service` - :class:`~habla.auth.service.AccountService`, the one entry
  point channels use (authenticate, sign in, manage users and keys, read the audit log).

This package sits above the stores (it drives the
:class:`~habla.store.accounts.AccountStore` protocol, never a concrete store) and below
the chat engine and channels. It does not speak HTTP and does not enforce rate limits or
token quotas on chat requests: :mod:`habla.limits` does.
"""
