"""Codec plugins: one module per codec."""
