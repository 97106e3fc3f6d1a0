"""Reclaim: the plan (what would be reclaimed), the re-check before each seat, apply and undo."""
