"""Reclaim: the plan (what would be reclaimed), the re-check before each seat, apply and undo.

``records`` (plans, items, reclaim actions), ``planning`` (the plan and the stored re-check),
``recheck`` (the fresh-facts check on the vendor's current record), ``confirm`` (a vendor call's
outcome read, stored, and settled later when not seen), ``apply`` (apply a plan), ``undo``.
"""
