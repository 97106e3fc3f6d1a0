"""Benchmarks for saas-license: ``python -m benchmarks`` from the repository root prints figures.

See ``benchmarks/README.md``. Nothing here is imported by the library or run by the tests.
"""
