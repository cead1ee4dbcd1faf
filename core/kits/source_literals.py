"""Module-level literals read from an installed package's source, without importing it.

Why: some facts a plugin needs just to be listed live as plain literals in a library
whose import costs seconds and a gigabyte (CompressAI's zoo URL table imports torch).
Parsing the file costs milliseconds. Only what is certainly the value after import is
returned — constants, containers and f-strings over earlier module-level scalars — and
a name that module-level code touches after assigning it is refused. Anything else
raises :class:`ValueError`, so that the caller imports the module instead.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_SCALARS = (str, int, float, bool, type(None))
_KEYS = (*_SCALARS, bytes)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
#: Star imports and builtins through which module code could change any global unseen.
_DYNAMIC = frozenset({"*", "globals", "vars", "locals", "exec", "eval", "setattr", "__import__"})


def package_file(package: str, *parts: str) -> Path | None:
    """A file inside installed top-level ``package``, located without importing anything.

    (``find_spec`` of a dotted name would import its parents, hence top-level only.)
    """
    if "." in package:
        raise ValueError(f"{package!r}: give a top-level package and the path inside it")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location, *parts)
        if path.is_file():
            return path
    return None


def module_literal(path: Path, name: str) -> Any:
    """The value module-level code at ``path`` gives ``name``, when it is a plain literal."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    scalars: dict[str, Any] = {}  # module-level names known to hold an immutable scalar
    found, value = False, None
    for node in tree.body:
        mentioned = set(_names(node))
        if found and (name in mentioned or mentioned & _DYNAMIC):
            raise ValueError(f"{path}: module code after {name} = ... uses it (or globals)")
        assignment = _simple_assignment(node)
        if assignment is None:  # anything else may rebind or mutate what it mentions
            if mentioned & _DYNAMIC:
                scalars.clear()
            for n in mentioned:
                scalars.pop(n, None)
            continue
        target, expr = assignment
        if target == name:
            value, found = _evaluate(expr, scalars), True
            continue
        try:
            v = _evaluate(expr, scalars)
        except ValueError:
            v = None
        if v is not None and isinstance(v, _SCALARS):
            scalars[target] = v
        else:
            scalars.pop(target, None)
    if not found:
        raise ValueError(f"{path}: no module-level assignment to {name}")
    return value


def _simple_assignment(node: ast.stmt) -> tuple[str, ast.expr] | None:
    """``NAME = value`` or ``NAME: T = value``: (NAME, value); any other statement: None."""
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target, expr = node.targets[0], node.value
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        target, expr = node.target, node.value
    else:
        return None
    return (target.id, expr) if isinstance(target, ast.Name) else None


def _names(node: ast.AST) -> Iterator[str]:
    """Every name a statement reads, binds or imports when the module runs (not what
    function bodies do: they run only when called, after an import)."""
    if isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, ast.alias):
        yield (node.asname or node.name).split(".")[0]
    else:
        bound = getattr(node, "name", None) or getattr(node, "rest", None)
        if isinstance(bound, str):  # def, class, except ... as, match captures
            yield bound
    for field, child in ast.iter_fields(node):
        if isinstance(node, _FUNCTIONS) and field == "body":
            continue
        for item in child if isinstance(child, list) else [child]:
            if isinstance(item, ast.AST):
                yield from _names(item)


def _evaluate(node: ast.expr, scalars: dict[str, Any]) -> Any:
    """A literal expression's value; f-strings may format earlier module-level scalars."""
    if isinstance(node, ast.Constant) and isinstance(node.value, _KEYS):
        return node.value
    if isinstance(node, ast.Dict) and all(k is not None for k in node.keys):
        pairs = [(_evaluate(k, scalars), _evaluate(v, scalars))  # type: ignore[arg-type]
                 for k, v in zip(node.keys, node.values, strict=True)]
        if all(isinstance(k, _KEYS) for k, _ in pairs):
            return dict(pairs)
    if isinstance(node, ast.List | ast.Tuple):
        items = [_evaluate(e, scalars) for e in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.JoinedStr):
        return "".join(str(_evaluate(part, scalars)) for part in node.values)
    if isinstance(node, ast.FormattedValue) and node.conversion == -1 and not node.format_spec:
        v = _evaluate(node.value, scalars)
        if isinstance(v, str | int) and not isinstance(v, bool):
            return v  # format(v, "") == str(v) for these
    if isinstance(node, ast.Name) and node.id in scalars:
        return scalars[node.id]
    raise ValueError(f"not a plain literal: {ast.unparse(node)[:80]}")
