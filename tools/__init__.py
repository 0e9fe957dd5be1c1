"""Developers' tools: run by hand or by the tests, never imported by the product."""
