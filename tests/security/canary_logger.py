"""A callback for the secrets suite, loaded by the proxy from ``litellm_settings.callbacks`` as
``canary_logger.CanaryLogger`` (copied next to the test's config). It appends ``repr`` of everything each
hook receives to ``$LEDGERLM_CANARY_OUT`` (logging events) and ``$LEDGERLM_CANARY_OUT.hooks`` (proxy hooks,
which see the request itself), so the test can search every payload a callback was handed."""

from __future__ import annotations

import os
import threading
from typing import Any

from ledgerlm.callbacks import CustomLogger

_LOCK = threading.Lock()


def _write(suffix: str, name: str, *parts: Any) -> None:
    path = os.environ["LEDGERLM_CANARY_OUT"] + suffix
    with _LOCK, open(path, "a", encoding="utf-8") as out:
        out.write(f"{name}: {parts!r}\n")


class CanaryLogger(CustomLogger):  # type: ignore[misc]
    """Records every payload (see the module docstring)."""

    def log_pre_api_call(self, model: str, messages: Any, kwargs: dict[str, Any]) -> None:
        _write("", "log_pre_api_call", model, messages, kwargs)

    def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        _write("", "log_success_event", kwargs, response_obj)

    def log_failure_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        _write("", "log_failure_event", kwargs, response_obj)

    def log_stream_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        _write("", "log_stream_event", kwargs, response_obj)

    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any, data: Any, call_type: Any) -> Any:
        _write(".hooks", "async_pre_call_hook", user_api_key_dict, data)
        return data

    async def async_post_call_success_hook(self, data: Any, user_api_key_dict: Any, response: Any) -> Any:
        _write(".hooks", "async_post_call_success_hook", data, user_api_key_dict, response)
        return response

    async def async_post_call_failure_hook(
        self, request_data: Any, original_exception: Any, user_api_key_dict: Any, *args: Any, **kw: Any
    ) -> None:
        _write(".hooks", "async_post_call_failure_hook", request_data, original_exception, user_api_key_dict)
