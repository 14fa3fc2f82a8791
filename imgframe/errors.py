"""The one exception tree of imgframe.

Every error imgframe raises on purpose is an :class:`ImgframeError`; the CLI turns any of them
into one line on stderr and exit code 1 (``InvalidArgument`` from the command line is a usage
error, exit code 2)::

    ImgframeError
    ├── ConfigError            configuration is missing or unusable
    │   └── CredentialsError   no credentials found (names every place looked in)
    ├── InvalidArgument        a bad argument, caught before any request (also a ValueError)
    ├── TransportError         the request did not produce an API answer
    │   ├── NetworkError       connect failures, dropped connections, read timeouts
    │   ├── BadResponseError   an answer that is not the documented JSON (HTML 502 page,
    │   │                      empty or truncated body, malformed JSON, missing fields)
    │   └── BlockedError       a network-layer block: 403 challenge, 451
    ├── ApiError               the API answered with an error code (code, message,
    │   │                      request_id, http_status, action)
    │   ├── AuthError          signature, key or timestamp rejected (mentions the clock)
    │   ├── PermissionDeniedError  the key may not call this action (HTTP 403)
    │   ├── RateLimitError     REQUEST_LIMIT_EXCEEDED after every retry
    │   └── NotFoundError      INVALID_ZONE_NOT_FOUND and other 404s
    ├── DataError              data that cannot be read or is inconsistent
    │   ├── NotListedError     the API does not list what was asked for (a zone
    │   │                      DescribeZones does not return); known only once it answered
    │   ├── EmptyResultError   nothing matched, and the caller asked for that to fail
    │   ├── ResponseDataError  the API answered, but what it said cannot be right (a zone
    │   │                      listed twice, an image without an id, an unprintable id)
    │   └── IncompleteError    the result is known to be incomplete (pages that never add up
    │                          to totalCount); ``result`` holds what was fetched
    └── ExportError            a file could not be written (the previous file is intact)
        └── StoreBusyError     another writer holds the snapshot store

No message ever holds a secret: credentials are never formatted into errors, and response
bodies are cut to a bounded length before they are quoted.
"""

from __future__ import annotations

__all__ = [
    "ApiError",
    "AuthError",
    "BadResponseError",
    "BlockedError",
    "ConfigError",
    "ConsistencyWarning",
    "CredentialsError",
    "DataError",
    "DataQualityWarning",
    "EmptyResultError",
    "ExportError",
    "ImgframeError",
    "ImgframeWarning",
    "IncompleteError",
    "InvalidArgument",
    "NetworkError",
    "NotFoundError",
    "NotListedError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseDataError",
    "StoreBusyError",
    "TransportError",
]


class ImgframeError(Exception):
    """Base class of every error imgframe raises on purpose."""


class ConfigError(ImgframeError):
    """Configuration is missing or unusable (endpoint, profile files)."""


class CredentialsError(ConfigError):
    """No usable credentials were found."""


class InvalidArgument(ImgframeError, ValueError):
    """An argument is invalid; raised before any request is sent."""


class DataError(ImgframeError):
    """Data cannot be read or is inconsistent (a corrupt export, a bad snapshot store)."""


class NotListedError(DataError):
    """The API does not list what the caller named, e.g. a zone DescribeZones does not
    return. Arguments are checked before any request (:class:`InvalidArgument`); this is
    known only once the API has answered, so it is not a usage error."""


class EmptyResultError(DataError):
    """Nothing matched, and the caller asked for that to be a failure (``--fail-on-empty``):
    a scheduled export that finds no images is more often a wrong filter than an empty
    account."""


class ResponseDataError(DataError):
    """The API answered, but what it said cannot be right: a zone listed twice, an image
    without an id, an id with control characters. Not retried: asking again gives the same."""


class IncompleteError(DataError):
    """The result is known to be incomplete: the pages never added up to ``totalCount``
    (a server that ignores ``pageNum``, caps its pages, or announces far more than it holds).

    ``result`` is what was fetched (a frame), so a caller that accepts partial data can still
    use it; ``missing`` maps each listing (zone) to how many items it announced but never sent.
    """

    def __init__(
        self, message: str, *, result: object = None, missing: dict[str, int] | None = None
    ) -> None:
        super().__init__(message)
        self.result = result
        self.missing = dict(missing or {})


class ExportError(ImgframeError):
    """A file could not be written. The previous file at the target is left intact."""


class StoreBusyError(ExportError):
    """Another process is writing the snapshot store (its lock is held)."""


class TransportError(ImgframeError):
    """The request did not produce an API answer.

    ``action`` names the API action; ``attempts`` counts the tries made.
    """

    def __init__(self, message: str, *, action: str | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.action = action
        self.attempts = attempts


class NetworkError(TransportError):
    """Connecting failed, the connection dropped, or the answer took too long."""


class BadResponseError(TransportError):
    """The answer was not the documented JSON envelope."""

    def __init__(
        self,
        message: str,
        *,
        action: str | None = None,
        attempts: int = 1,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message, action=action, attempts=attempts)
        self.http_status = http_status


class BlockedError(TransportError):
    """A network-layer block (HTTP 403 challenge, HTTP 451), not an API answer."""

    def __init__(self, message: str, *, action: str | None = None, http_status: int) -> None:
        super().__init__(message, action=action)
        self.http_status = http_status


class ApiError(ImgframeError):
    """The API answered with an error code."""

    def __init__(
        self,
        *,
        code: str,
        message: str,
        request_id: str | None,
        http_status: int,
        action: str,
        attempts: int = 1,
    ) -> None:
        self.code = code
        self.message = message
        self.request_id = request_id
        self.http_status = http_status
        self.action = action
        self.attempts = attempts
        super().__init__(self._describe())

    def _describe(self) -> str:
        text = f"{self.action} failed: {self.code} (HTTP {self.http_status}): {self.message}"
        if self.attempts > 1:
            text += f" [after {self.attempts} attempts]"
        if self.request_id:
            text += f" [requestId {self.request_id}]"
        return text

    def __reduce__(self) -> tuple[object, ...]:  # keep errors picklable across processes
        return (_rebuild_api_error, (type(self), self.__dict__))


def _rebuild_api_error(cls: type[ApiError], state: dict[str, object]) -> ApiError:
    err = cls.__new__(cls)
    err.__dict__.update(state)
    Exception.__init__(err, err._describe())
    return err


class AuthError(ApiError):
    """The API rejected the credentials, the signature or the timestamp."""

    def _describe(self) -> str:
        return (
            super()._describe()
            + " (check the access key id and secret, and that this machine's clock is correct)"
        )


class RateLimitError(ApiError):
    """The API kept answering REQUEST_LIMIT_EXCEEDED until the retries ran out."""


class PermissionDeniedError(ApiError):
    """The key is valid but may not call this action (HTTP 403 with an API error code)."""


class NotFoundError(ApiError):
    """The API answered 404, e.g. INVALID_ZONE_NOT_FOUND."""


class ImgframeWarning(UserWarning):
    """Base class of imgframe's warnings: data was usable but not exactly as documented."""


class DataQualityWarning(ImgframeWarning):
    """Values the API sent could not be read as documented and became NA."""


class ConsistencyWarning(ImgframeWarning):
    """The listing changed while it was paged and re-paging did not settle it."""
