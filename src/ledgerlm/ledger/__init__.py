"""The ledger, off the request path: reconciliation against provider bills (``ledger.reconcile``)."""
