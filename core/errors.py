"""Exceptions that carry a message meant for the user: what is wrong and what to do."""

from __future__ import annotations


class LossybenchError(Exception):
    """Base class; the CLI prints these without a traceback."""


class PluginError(LossybenchError):
    """A plugin could not be loaded or returned something the contract does not allow."""


class ConflictError(LossybenchError):
    """Two plugins registered the same name."""


class UnknownNameError(LossybenchError, KeyError):
    """A codec/model/task/dataset name that no loaded plugin provides."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class ImageError(LossybenchError):
    """One image cannot be used; the run goes on without it."""


class CodecError(LossybenchError):
    """A codec failed to encode or decode one image."""


class OutOfRangeError(LossybenchError, ValueError):
    """A quality or bit-rate target outside what the codec or tool accepts."""


class ModelError(LossybenchError):
    """A model cannot be built: unknown name, missing weights, wrong task."""


class DatasetError(LossybenchError):
    """A dataset cannot be used: missing path, bad labels, mismatched masks."""
