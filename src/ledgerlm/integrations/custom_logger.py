"""``from ledgerlm.integrations.custom_logger import CustomLogger``: the path LiteLLM users import from
(``litellm.integrations.custom_logger``). The class is ``ledgerlm.custom_logger.CustomLogger``:
the same hooks with the same arguments (``async_log_success_event(kwargs, response_obj, start_time,
end_time)``, the proxy hooks ``async_pre_call_hook(user_api_key_dict, cache, data, call_type)``, ...)."""

from __future__ import annotations

from ledgerlm.custom_logger import CustomLogger

__all__ = ["CustomLogger"]
