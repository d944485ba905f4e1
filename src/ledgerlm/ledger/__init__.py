"""The ledger, off the request path: reconciliation against provider bills (``ledger.reconcile``),
re-pricing, adjustments, closed periods and the FOCUS export.

Modules (each one job; nothing here runs on the request path)::

    reconcile      provider reports vs ledger -> explained deltas (issue 18)
    row_pricing    RowPricer(book).price(StoredCall) -> Cost | None   (the price in force at call time)
    reprice        await reprice(engine, RepriceScope(start, end, model, team), book, run=None) -> RepriceDiff
    adjustments    write_adjustments(conn, corrections, run); row_states(...);
                   await adjusted_spend(engine, start, end, group_by="team_id")   <- for reconciliation,
                                                                                    dashboards
    periods        close_period / list_periods / frozen_report / landing; PeriodClosedError (409)
    period_report  period_report_data(conn, "2026-11") -> the month's report (what a close freezes)
    focus_columns  the FOCUS 1.2 columns; focus_rows: spend rows / adjustments -> FOCUS rows;
    focus_export   focus_batches(engine, ExportScope(...)) (streamed); focus_io: write_focus (CSV/Parquet)

The price book itself lives in ``ledgerlm.pricing.book`` (entries, lookups), ``ledgerlm.pricing
.book_file`` (price files) and ``ledgerlm.store.price_book`` (the table). See ``docs/finance.md``.
"""
