"""Loading plugins through pluggy with isolation, and the name registry they fill.

pluggy's ``load_setuptools_entrypoints`` calls ``ep.load()`` with no error isolation,
so one broken plugin would crash the host. We load entry points ourselves, inside
``try``, and call each plugin's hook implementation separately for the same reason.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal

import pluggy

from lossybench import hookspecs
from lossybench.codec import Codec, QualityRange
from lossybench.dataset import Dataset
from lossybench.errors import ConflictError, UnknownNameError
from lossybench.markers import ENTRY_POINT_GROUP, PROJECT
from lossybench.model import ModelFamily
from lossybench.task import Task

Kind = Literal["codecs", "models", "tasks", "datasets"]
KINDS: tuple[Kind, ...] = ("codecs", "models", "tasks", "datasets")
BASES: dict[str, type] = {
    "codecs": Codec,
    "models": ModelFamily,
    "tasks": Task,
    "datasets": Dataset,
}
DISABLE_ENV = "LOSSYBENCH_DISABLE_PLUGINS"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._+-]*$")


@dataclass(frozen=True)
class Origin:
    """Where a registered thing came from: plugin (entry-point) name and distribution."""

    plugin: str
    distribution: str = "?"
    version: str = "?"

    def __str__(self) -> str:
        return f"plugin {self.plugin!r} ({self.distribution} {self.version})"


@dataclass(frozen=True)
class Entry:
    name: str
    kind: str
    obj: Any
    origin: Origin

    @property
    def description(self) -> str:
        return (getattr(self.obj, "description", "") or "").strip()


@dataclass(frozen=True)
class PluginFailure:
    plugin: str
    distribution: str
    error: str
    stage: str

    def as_dict(self) -> dict[str, str]:
        return {
            "plugin": self.plugin,
            "distribution": self.distribution,
            "stage": self.stage,
            "error": self.error,
        }


@dataclass
class Registry:
    """Everything the loaded plugins registered, by kind and name."""

    entries: dict[str, dict[str, Entry]] = field(default_factory=lambda: {k: {} for k in KINDS})
    conflicts: dict[str, dict[str, list[Origin]]] = field(
        default_factory=lambda: {k: {} for k in KINDS}
    )
    errors: list[PluginFailure] = field(default_factory=list)
    plugins: dict[str, Origin] = field(default_factory=dict)
    disabled: list[str] = field(default_factory=list)
    commands: dict[str, tuple[Any, Origin]] = field(default_factory=dict)

    def add(self, kind: str, name: str, obj: Any, origin: Origin) -> None:
        if name in self.conflicts[kind]:
            self.conflicts[kind][name].append(origin)
            return
        existing = self.entries[kind].get(name)
        if existing is not None:
            del self.entries[kind][name]
            self.conflicts[kind][name] = [existing.origin, origin]
            return
        self.entries[kind][name] = Entry(name, kind, obj, origin)

    def names(self, kind: str) -> list[str]:
        return sorted(self.entries[kind])

    def get(self, kind: str, name: str) -> Entry:
        if name in self.conflicts[kind]:
            raise ConflictError(conflict_message(kind, name, self.conflicts[kind][name]))
        try:
            return self.entries[kind][name]
        except KeyError:
            singular = kind.rstrip("s")
            have = ", ".join(self.names(kind)) or "none"
            raise UnknownNameError(
                f"unknown {singular} {name!r}; available: {have} (see `bench list`)"
            ) from None

    def codec(self, name: str) -> type[Codec]:
        return self.get("codecs", name).obj

    def conflict_errors(self) -> list[PluginFailure]:
        out = []
        for kind, names in self.conflicts.items():
            for name, origins in names.items():
                out.append(
                    PluginFailure(
                        plugin=", ".join(o.plugin for o in origins),
                        distribution=", ".join(f"{o.distribution} {o.version}" for o in origins),
                        error=conflict_message(kind, name, origins),
                        stage="conflict",
                    )
                )
        return out


def conflict_message(kind: str, name: str, origins: list[Origin]) -> str:
    who = " and ".join(str(o) for o in origins)
    return (
        f"{kind.rstrip('s')} name {name!r} is registered by {who}; "
        f"disable all but one with --disable-plugin NAME or {DISABLE_ENV}"
    )


def disabled_from_env() -> list[str]:
    raw = os.environ.get(DISABLE_ENV, "")
    return [p.strip() for p in raw.split(",") if p.strip()]


def _dist_key(name: str) -> str:
    """A distribution name normalised as in PEP 503."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _origin(ep: EntryPoint) -> Origin:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return Origin(ep.name)
    return Origin(ep.name, dist.metadata.get("Name", "?"), dist.version)


def validate_item(kind: str, item: Any) -> str:
    """Return the registered name of ``item`` or raise ``TypeError`` saying what is wrong."""
    base = BASES[kind]
    if not (inspect.isclass(item) and issubclass(item, base)):
        raise TypeError(
            f"returned {item!r}, which is not a subclass of {base.__module__}.{base.__name__}"
        )
    if inspect.isabstract(item):
        missing = ", ".join(sorted(item.__abstractmethods__))
        raise TypeError(f"{item.__name__} does not implement {missing}")
    name = getattr(item, "name", None)
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise TypeError(
            f"{item.__name__}.name is {name!r}; it must be a lower-case identifier "
            "such as 'jpeg' or 'my-codec'"
        )
    if kind == "codecs" and not isinstance(getattr(item, "quality", None), QualityRange):
        raise TypeError(f"{item.__name__}.quality must be a lossybench.codec.QualityRange")
    return name


class PluginHost:
    """Owns the pluggy manager; build with :func:`load_registry`."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)

    def register(self, plugin: Any, origin: Origin, registry: Registry) -> bool:
        try:
            self.pm.register(plugin, name=origin.plugin)
        except Exception as exc:  # pluggy validation errors, duplicate names
            registry.errors.append(
                PluginFailure(
                    origin.plugin, f"{origin.distribution} {origin.version}", str(exc), "register"
                )
            )
            return False
        # pluggy only reports hooks without a spec in check_pending(), which would fail
        # for every plugin at once; a typo such as ``lossybench_codec`` would otherwise
        # be silently ignored.
        unknown = sorted(
            caller.name
            for caller in self.pm.get_hookcallers(plugin) or []
            if not caller.has_spec()
            and any(i.plugin is plugin and not i.optionalhook for i in caller.get_hookimpls())
        )
        if unknown:
            self.pm.unregister(plugin)
            known = ", ".join(n for n in dir(hookspecs) if n.startswith("lossybench_"))
            registry.errors.append(
                PluginFailure(
                    origin.plugin,
                    f"{origin.distribution} {origin.version}",
                    f"unknown hook(s) {', '.join(unknown)}; lossybench provides {known} "
                    "(mark a hook of a newer lossybench with @hookimpl(optionalhook=True))",
                    "register",
                )
            )
            return False
        registry.plugins[origin.plugin] = origin
        return True

    def collect_commands(self, registry: Registry) -> None:
        for impl in self.pm.hook.lossybench_commands.get_hookimpls():
            origin = registry.plugins.get(impl.plugin_name, Origin(impl.plugin_name))
            where = f"{origin.distribution} {origin.version}"
            try:
                pairs = list(impl.function() or [])
                for name, app in pairs:
                    if not isinstance(name, str) or not NAME_RE.match(name):
                        raise TypeError(f"command name {name!r} is not a lower-case identifier")
                    if not hasattr(app, "registered_commands"):
                        raise TypeError(f"command {name!r} is not a typer.Typer app")
                    if name in registry.commands:
                        other = registry.commands[name][1]
                        raise TypeError(f"command {name!r} is already provided by {other}")
                    registry.commands[name] = (app, origin)
            except Exception as exc:
                registry.errors.append(
                    PluginFailure(
                        origin.plugin, where, f"{type(exc).__name__}: {exc}", "lossybench_commands"
                    )
                )

    def collect_diagnostics(self, registry: Registry) -> None:
        for impl in self.pm.hook.lossybench_diagnostics.get_hookimpls():
            origin = registry.plugins.get(impl.plugin_name, Origin(impl.plugin_name))
            where = f"{origin.distribution} {origin.version}"
            try:
                messages = impl.function() or []
            except Exception as exc:
                messages = [f"lossybench_diagnostics raised {type(exc).__name__}: {exc}"]
            for msg in messages:
                registry.errors.append(PluginFailure(origin.plugin, where, str(msg), "diagnostics"))

    def collect(self, registry: Registry) -> None:
        """Call each plugin's hooks one by one; diagnostics last, after registrations."""
        for kind in KINDS:
            hook = getattr(self.pm.hook, f"lossybench_{kind}")
            for impl in hook.get_hookimpls():  # registration order (pluggy calls in reverse)
                origin = registry.plugins.get(impl.plugin_name, Origin(impl.plugin_name))
                where = f"{origin.distribution} {origin.version}"
                try:
                    items = impl.function()
                except BaseException as exc:  # as at import: a hook may even sys.exit()
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    registry.errors.append(
                        PluginFailure(
                            origin.plugin,
                            where,
                            f"{type(exc).__name__}: {exc}",
                            f"lossybench_{kind}",
                        )
                    )
                    continue
                if items is None:
                    continue
                if not isinstance(items, list | tuple):
                    registry.errors.append(
                        PluginFailure(
                            origin.plugin,
                            where,
                            f"lossybench_{kind} returned {type(items).__name__}, not a list",
                            f"lossybench_{kind}",
                        )
                    )
                    continue
                for item in items:
                    try:
                        name = validate_item(kind, item)
                    except TypeError as exc:
                        registry.errors.append(
                            PluginFailure(origin.plugin, where, str(exc), f"lossybench_{kind}")
                        )
                        continue
                    registry.add(kind, name, item, origin)


def load_registry(
    disable: Iterable[str] = (),
    extra_plugins: Iterable[tuple[str, Any]] = (),
    use_entry_points: bool = True,
) -> Registry:
    """Load every plugin of the ``lossybench`` entry-point group, isolating failures.

    ``disable`` (plus ``$LOSSYBENCH_DISABLE_PLUGINS``) names entry points or
    distributions to skip. ``extra_plugins`` are (name, module/object) pairs registered
    directly, for tests and embedding.
    """
    blocked = set(disable) | set(disabled_from_env())
    blocked_dists = {_dist_key(b) for b in blocked}  # pip treats acme_codec == Acme-Codec
    registry = Registry(disabled=sorted(blocked))
    host = PluginHost()
    if use_entry_points:
        eps = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
        seen: set[str] = set()
        for ep in eps:
            origin = _origin(ep)
            if ep.name in blocked or _dist_key(origin.distribution) in blocked_dists:
                continue
            if ep.name in seen:
                registry.errors.append(
                    PluginFailure(
                        ep.name,
                        f"{origin.distribution} {origin.version}",
                        f"another distribution already uses the plugin name {ep.name!r}",
                        "load",
                    )
                )
                continue
            seen.add(ep.name)
            try:
                plugin = ep.load()
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt):
                    raise
                registry.errors.append(
                    PluginFailure(
                        ep.name,
                        f"{origin.distribution} {origin.version}",
                        f"{type(exc).__name__}: {exc}",
                        "import",
                    )
                )
                continue
            host.register(plugin, origin, registry)
    for name, plugin in extra_plugins:
        if name not in blocked:
            host.register(plugin, Origin(name, "<direct>", "-"), registry)
    host.collect(registry)
    host.collect_commands(registry)
    host.collect_diagnostics(registry)
    registry.errors.extend(registry.conflict_errors())
    return registry


_cached: dict[tuple[str, ...], Registry] = {}


def get_registry(disable: Iterable[str] = ()) -> Registry:
    """The process-wide registry (loaded once per set of disabled plugins)."""
    key = tuple(sorted(set(disable) | set(disabled_from_env())))
    if key not in _cached:
        _cached[key] = load_registry(disable)
    return _cached[key]


def invocation_registry(ctx: Any = None) -> Registry:
    """The registry of the running ``bench`` command, for commands and plugin commands.

    ``bench --disable-plugin X`` loads a registry without X and puts it on the command's
    context (``ctx.obj``); every command (``bench leaderboard`` too) passes its
    ``typer.Context`` here rather than reading module globals. Outside a ``bench``
    invocation (a plugin's own app run alone, tests) the process-wide
    :func:`get_registry` answers.
    """
    found = ctx.find_object(Registry) if ctx is not None else None
    return found if found is not None else get_registry()
