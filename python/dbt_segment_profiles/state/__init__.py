"""Bookkeeping the runner writes: the issues of rejected and failed rows."""
