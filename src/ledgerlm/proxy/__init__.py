"""The ledgerlm proxy: an OpenAI-compatible gateway with virtual keys, request tags and spend logs.

Public entry points (everything else is internal)::

    from ledgerlm.proxy.app import build_app, create_app      # Starlette app from a state / config file
    from ledgerlm.proxy.config import load_config, parse_config   # validated ProxyConfig (ConfigError)
    from ledgerlm.proxy.state import build_state              # ProxyState: built once at start
    from ledgerlm.proxy.server import serve, ServerThread     # run it (CLI / tests and demo)
    from ledgerlm.budgets.contract import Admission, NoAdmission, Reservation  # budgets plug in here

Modules: ``call`` (one request as a pipeline of steps), ``llm_routes`` (chat, embeddings, models),
``management`` (keys, teams, users, customers), ``spend_api``, ``auth`` (keys, cache), ``tags``,
``hooks`` (config callbacks, CustomLogger proxy hooks), ``spend`` (the spend-row sink), ``store_link``
(database, spool, writer), ``key_events`` (cross-instance key invalidation), ``metrics`` (``/metrics``),
``openapi``, ``sse_response``, ``http`` (orjson responses, OpenAI errors), ``demo``.
Nothing here runs at import time.
"""
