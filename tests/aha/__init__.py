"""Tests of the Aha! spoke and its sandbox."""
