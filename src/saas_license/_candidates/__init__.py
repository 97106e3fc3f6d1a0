"""Removal candidates: the records, their state machine, the workflow that moves them, and notices."""
