"""Inference endpoints, one module per API format; each defines an ``Endpoint`` value
(``ledgerlm.proxy.lifecycle``) and nothing of the call path:

* ``chat``: ``POST /v1/chat/completions`` (OpenAI chat, plain and SSE)
* ``embeddings``: ``POST /v1/embeddings`` (OpenAI)
* ``messages``: ``POST /v1/messages`` (Anthropic Messages, native or translated)

A route is ``Route(path, inference_route(ENDPOINT), methods=["POST"])``.
"""
