"""The one error tree of habla.

Every error habla raises on purpose derives from :class:`HablaError`. Third-party
exceptions are translated into these where they enter our code (``raise ... from exc``),
and each channel maps them to its own surface (HTTP status, CLI exit code, chat reply).

::

    HablaError
    ├── ConfigError                 settings or model files are wrong; fix and restart
    ├── InvalidRequest              the caller sent something malformed or out of range
    │   ├── InputTooLarge           too many messages / characters / max_tokens
    │   └── ContextLengthExceeded   even the newest turn does not fit the model's window
    ├── UnknownModel                the model id is not one this server serves
    ├── NotFound                    no such object (or not yours)
    ├── Conflict                    it already exists (e.g. a user name that is taken)
    ├── GuardBlocked                a guard refused the input or output
    ├── RateLimited                 too many requests right now (retry_after)
    ├── QuotaExceeded               a token or cost budget is spent (retry_after)
    ├── StoredDataError             stored data cannot be read (key missing, tampered row)
    ├── AuthError                   missing or wrong credentials
    │   └── PermissionDenied        signed in, but not allowed to do this (403)
    └── BackendError                the model backend failed
        ├── BackendUnavailable      down, timed out, overloaded: try later
        │   └── BackendBusy         our own queue for a local model is full
        ├── BackendRejected         the backend refused this request
        └── UnsupportedFeature      e.g. an image sent to a text-only model

Messages are written for the person who will read them: they say what went wrong and,
where there is one, what to do. They never contain secrets or user content.
"""

from __future__ import annotations


class HablaError(Exception):
    """Root of every deliberate habla error."""

    code: str = "habla_error"

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class ConfigError(HablaError):
    code = "config_error"


class InvalidRequest(HablaError):
    code = "invalid_request"


class InputTooLarge(InvalidRequest):
    code = "input_too_large"


class ContextLengthExceeded(InvalidRequest):
    code = "context_length_exceeded"


class UnknownModel(HablaError):
    code = "model_not_found"


class NotFound(HablaError):
    code = "not_found"


class Conflict(HablaError):
    code = "conflict"


class GuardBlocked(HablaError):
    code = "content_blocked"


class _RetryableError(HablaError):
    def __init__(
        self, message: str, *, retry_after: float | None = None, param: str | None = None
    ) -> None:
        super().__init__(message, param=param)
        self.retry_after = retry_after


class RateLimited(_RetryableError):
    code = "rate_limit_exceeded"


class QuotaExceeded(_RetryableError):
    code = "insufficient_quota"


# Data at rest: a stored value that cannot be decrypted or authenticated. Never answered
# with garbage or with the raw stored bytes.
class StoredDataError(HablaError):
    code = "stored_data_error"


class AuthError(HablaError):
    code = "invalid_api_key"


class PermissionDenied(AuthError):
    code = "permission_denied"


class BackendError(HablaError):
    code = "backend_error"


class BackendUnavailable(BackendError):
    code = "backend_unavailable"

    def __init__(
        self, message: str, *, retry_after: float | None = None, param: str | None = None
    ) -> None:
        super().__init__(message, param=param)
        self.retry_after = retry_after


class BackendBusy(BackendUnavailable):
    code = "backend_busy"


class BackendRejected(BackendError):
    code = "backend_rejected"


class UnsupportedFeature(BackendError):
    code = "unsupported_feature"
