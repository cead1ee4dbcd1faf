"""The plugin contract of lossybench: every hook a plugin may implement.

A plugin is a module (or object) exposed under the entry-point group ``lossybench``::

    [project.entry-points.lossybench]
    mycodec = "mypackage.mycodec"

and implements one or more of the hooks below, marked with :data:`lossybench.hookimpl`.
Each ``lossybench_*`` hook *returns a list of classes*; the host validates every item
(a wrong type, a missing name or a malformed quality range is reported with the plugin
and distribution that returned it, and skipped) and registers it under its ``name``.
Names are global per kind: two plugins that register the same codec name conflict,
and the host refuses to guess which one is meant (disable one with
``--disable-plugin NAME``).

Hooks are called lazily, once per process, and never receive arguments, so a plugin
that raises or returns garbage cannot affect any other plugin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lossybench.markers import hookspec

if TYPE_CHECKING:
    from lossybench.codec import Codec
    from lossybench.dataset import Dataset
    from lossybench.model import ModelFamily
    from lossybench.task import Task


@hookspec
def lossybench_codecs() -> list[type[Codec]]:
    """Return the codec classes this plugin provides.

    Each item is a subclass of :class:`lossybench.codec.Codec` with a unique ``name``,
    a :class:`lossybench.codec.QualityRange` and ``encode``/``decode`` methods that
    write and read the *real* bitstream: the bytes a user would store or send. The
    host measures bits per pixel from ``len(bitstream)`` only.

    Import heavy backends inside the methods or the class body of the module that is
    the plugin, not at the top of a module the host imports for every command, so
    ``bench list`` stays fast. A codec whose backend is missing at run time should
    raise :class:`lossybench.errors.CodecError` from ``check_available`` with the
    install instruction.
    """


@hookspec
def lossybench_models() -> list[type[ModelFamily]]:
    """Return the model families this plugin provides.

    A model family (e.g. ``timm``, ``torchvision``) is a subclass of
    :class:`lossybench.model.ModelFamily` that builds a recognition model from a
    model name and a weights source and owns the model's preprocessing (resize,
    crop, normalise), which lossybench applies *after* decoding, as the study does.

    Optionally its loaded models implement the training API of
    :class:`lossybench.model.LoadedModel` (``trainable``, ``loss``, ``training_input``)
    so that ``bench finetune`` can train them: the loss belongs to the family because
    only the family knows its architecture. Without it, finetuning is refused up front.
    """


@hookspec
def lossybench_tasks() -> list[type[Task]]:
    """Return the tasks this plugin provides.

    A task (e.g. ``classification``, ``detection``, ``segmentation``) is a subclass of
    :class:`lossybench.task.Task`: the target format it reads from a dataset, the
    evaluator that accumulates predictions against targets, and the metrics it
    reports (with the name of the headline metric and its range).

    Optionally it implements :meth:`lossybench.task.Task.training_target`, the training
    target of a sample in a documented format, so that ``bench finetune`` can train on
    its datasets: the task owns the target format, the model family owns the loss; and
    :meth:`lossybench.task.Task.transform_target`, the target of a mirrored or turned
    image, for ``bench finetune --augment``.
    """


@hookspec
def lossybench_datasets() -> list[type[Dataset]]:
    """Return the dataset formats this plugin provides.

    A dataset format (e.g. ``imagefolder``, ``coco``, ``package-photos``) is a
    subclass of :class:`lossybench.dataset.Dataset` that turns a location
    (``--dataset FORMAT:PATH``) into a stream of samples. Samples are read lazily
    so that memory does not grow with the dataset size.
    """


@hookspec
def lossybench_diagnostics() -> list[str]:
    """Return problems this plugin found that did not stop it from loading.

    For example a user's codec definition file that does not parse: the plugin skips
    it, keeps its other registrations, and returns one message per problem here
    (naming the file and what to fix). ``bench list`` shows them with the plugin and
    distribution they came from.
    """


@hookspec
def lossybench_commands() -> list[tuple[str, Any]]:
    """Return ``(name, typer.Typer)`` pairs to mount as ``bench NAME ...`` sub-commands.

    This is how the leaderboard adds ``bench leaderboard``, and how a third party adds
    its own commands, without the core importing them. Names must not shadow a built-in
    command; a failing or malformed return is reported by ``bench list`` and skipped.
    """
