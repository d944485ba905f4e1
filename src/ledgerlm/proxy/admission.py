"""The admission contract lives in ``ledgerlm.budgets.contract`` (budgets implement it, the proxy calls
it; nothing in ``budgets`` imports the proxy); re-exported here for the proxy's callers."""

from ledgerlm.budgets.contract import Admission, NoAdmission, Reservation, start_admission, stop_admission

__all__ = ["Admission", "NoAdmission", "Reservation", "start_admission", "stop_admission"]
