"""Finance: entitlements (and their CSV import), prices, reconciliation against seats, savings."""
