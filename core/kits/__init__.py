"""Kits: what plugins share, so that no plugin imports another.

Base classes (Pillow-backed and neural codecs), ImageNet metadata, and the torch helpers
every model family needs: one device resolution, one checkpoint reader, batching. Kits
import the contract (the top-level modules of :mod:`lossybench`) and nothing above it.
"""
