"""One exception tree for the SDK and the proxy, mapped to OpenAI's error format.

::

    LedgerLMError                       base; .status_code, .error_type, .code, .to_openai()
     +-- ConfigError                    invalid config / custom price (at load; not an API error)
     +-- APIError                       anything about a call; carries provider, model, body, request id
          +-- BadRequestError           400 invalid_request_error
          |    +-- ContextWindowExceededError
          |    +-- UnsupportedProviderError   unknown provider prefix / ambiguous bare model name
          |    +-- MissingAPIKeyError         no key; names the environment variable to set
          +-- AuthenticationError       401 authentication_error
          +-- PermissionDeniedError     403 permission_denied
          +-- NotFoundError             404 not_found_error (code model_not_found for models)
          +-- RequestTooLargeError      413 request_too_large
          +-- UnprocessableEntityError  422 unprocessable_entity
          +-- RateLimitError            429 rate_limit_error (.retry_after seconds)
          |    +-- BudgetExceededError  429 budget_exceeded
          +-- InternalServerError       500 / other 5xx: api_error
          |    +-- ServiceUnavailableError   503, and Anthropic's 529 overloaded
          +-- APIConnectionError        connection refused / reset / DNS; status None (502 on the proxy)
          |    +-- APITimeoutError      timeout before the response or between stream chunks (504)
          +-- APIResponseValidationError  provider returned a body that is not what its API documents
                                          (non-JSON, missing fields); 502 on the proxy

The OpenAI error body is ``{"error": {"message", "type", "param", "code"}}``
(https://platform.openai.com/docs/guides/error-codes).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "ConfigError",
    "ContextWindowExceededError",
    "InternalServerError",
    "LedgerLMError",
    "MissingAPIKeyError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTooLargeError",
    "ServiceUnavailableError",
    "UnprocessableEntityError",
    "UnsupportedProviderError",
    "error_for_status",
]


class LedgerLMError(Exception):
    """Base of every ledgerlm error. ``status_code`` is the HTTP status the proxy answers with."""

    status_code: int = 500
    error_type: str = "api_error"
    default_code: str | None = None

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else self.default_code
        self.param = param

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI error body: ``{"error": {"message", "type", "param", "code"}}``."""
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }


class ConfigError(LedgerLMError):
    """The config (file or arguments) is invalid. ``path`` names the bad field, e.g. ``model_list[2].x``."""

    status_code = 500
    error_type = "config_error"

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class APIError(LedgerLMError):
    """An error about one call. Carries what a user needs to act on it.

    Attributes: ``status_code`` (HTTP, or None for connection errors), ``provider``, ``model``,
    ``body`` (the provider's error body as received, parsed JSON when possible), ``request_id``,
    ``headers`` (response headers from the provider, when any), ``retry_after`` (seconds, when known).
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        model: str | None = None,
        body: Any = None,
        request_id: str | None = None,
        status_code: int | None = None,
        headers: dict[str, str] | None = None,
        retry_after: float | None = None,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message, code=code, param=param)
        if status_code is not None:
            self.status_code = status_code
        self.provider = provider
        self.model = model
        self.body = body
        self.request_id = request_id
        self.headers = headers or {}
        self.retry_after = retry_after


class BadRequestError(APIError):
    status_code = 400
    error_type = "invalid_request_error"


class ContextWindowExceededError(BadRequestError):
    default_code = "context_length_exceeded"


class UnsupportedProviderError(BadRequestError):
    default_code = "unsupported_provider"


class MissingAPIKeyError(BadRequestError):
    default_code = "missing_api_key"


class AuthenticationError(APIError):
    status_code = 401
    error_type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDeniedError(APIError):
    status_code = 403
    error_type = "permission_denied"


class NotFoundError(APIError):
    status_code = 404
    error_type = "not_found_error"


class RequestTooLargeError(APIError):
    status_code = 413
    error_type = "request_too_large"


class UnprocessableEntityError(APIError):
    status_code = 422
    error_type = "unprocessable_entity"


class RateLimitError(APIError):
    status_code = 429
    error_type = "rate_limit_error"
    default_code = "rate_limit_exceeded"


class BudgetExceededError(RateLimitError):
    error_type = "budget_exceeded"
    default_code = "budget_exceeded"


class InternalServerError(APIError):
    status_code = 500
    error_type = "api_error"


class ServiceUnavailableError(InternalServerError):
    status_code = 503
    error_type = "service_unavailable"


class APIConnectionError(APIError):
    status_code = 502
    error_type = "api_connection_error"


class APITimeoutError(APIConnectionError):
    status_code = 504
    error_type = "timeout"
    default_code = "timeout"


class APIResponseValidationError(APIError):
    status_code = 502
    error_type = "invalid_provider_response"


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: APITimeoutError,
    413: RequestTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    500: InternalServerError,
    502: InternalServerError,
    503: ServiceUnavailableError,
    504: APITimeoutError,
    529: ServiceUnavailableError,
}


def error_for_status(status: int) -> type[APIError]:
    """The exception class for an upstream HTTP status (any other 4xx: BadRequest; 5xx: InternalServer)."""
    cls = _BY_STATUS.get(status)
    if cls is not None:
        return cls
    return InternalServerError if status >= 500 else BadRequestError
