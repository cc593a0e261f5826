"""The trial as a whole: enrollment, accrual and the live safety stopping rule (pure: no I/O, no clock)."""
