"""Benchmarks for article-chat (see docs/benchmarks.md)."""
