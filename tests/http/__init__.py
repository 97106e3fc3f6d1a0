"""Tests of the shared HTTP toolkit (rate governor, retries, pagination, OAuth2)."""
