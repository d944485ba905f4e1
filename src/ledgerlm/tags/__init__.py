"""Tag governance: dimensions (``key:value`` tags), policies (reject / default / quarantine),
allocation that adds up to the global total, and the drift report. See ``docs/tags.md``.

Modules: ``dimensions`` (parsing), ``policy`` (the policy model), ``enforce`` (applying it to a
request's tags), ``allocation`` (per-dimension cost attribution), ``drift`` (the drift report),
``queries`` (reading the spend log for both).
"""
