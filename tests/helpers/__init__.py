"""Shared test helpers for the reliability suites (``tests/faults``, ``tests/security``, ``tests/badinput``)
and the benchmarks that replay them at full length (``benchmarks/faults.py``, ``benchmarks/soak.py``).

* ``net``: free ports, waiting for an HTTP endpoint.
* ``tcp_forwarder.TcpForwarder``: an asyncio TCP forwarder whose ``cut()`` closes its listener and every
  connection (the target looks unreachable: connection refused), ``restore()`` listens again on the same port.
* ``proxy_process.ProxyProcess``: ``ledgerlm proxy`` as a subprocess with its stdout/stderr captured.
* ``pg``: a throw-away PostgreSQL database on the machine's server, and table dumps.
* ``redis_server.RedisServer``: a private ``redis-server`` on a free port that a test may restart.
* ``traffic.Traffic``: steady openai-client traffic from a thread, remembering every answered request id.

Nothing here runs at import time.
"""
