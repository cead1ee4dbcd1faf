"""Layers 1-3 of validation: safe parsing, the shipped JSON Schema, the pydantic model.

The JSON Schema is the one ``bench schema`` prints, so a submitter's own schema check
and the board's agree; its errors point inside ``anyOf`` branches so that a problem names
the field that is wrong rather than the union that holds it.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import ValidationError

from lossybench.engine.results import RunResult, shipped_schema
from lossybench.leaderboard.problems import Report, short_message
from lossybench.leaderboard.safejson import Limits, UnsafeInput, json_path, loads


@functools.cache
def _schema_validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(
        shipped_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def _schema_problem(err: Any) -> tuple[str, str]:
    """(JSON path, message) of a schema error, pointing inside anyOf branches."""
    from jsonschema.exceptions import best_match

    where = list(err.absolute_path)
    if err.validator in ("anyOf", "oneOf") and err.context:
        specific = [e for e in err.context if e.validator != "type"]
        if specific:
            where += list(best_match(specific).relative_path)
    return json_path(where), f"schema: {_schema_message(err)}"


def _schema_message(err: Any) -> str:
    from jsonschema.exceptions import best_match

    if err.validator in ("anyOf", "oneOf") and err.context:
        # the branch whose type matched says what is wrong ("less than the minimum");
        # when no type matched, name them all rather than an arbitrary one
        specific = [e for e in err.context if e.validator != "type"]
        if not specific:
            types = " or ".join(repr(e.validator_value) for e in err.context)
            return f"{short_message(repr(err.instance))} is not of type {types}"
        return short_message(best_match(specific).message)
    return short_message(err.message)


def parse_result(report: Report, data: bytes, limits: Limits) -> dict[str, Any] | None:
    try:
        doc = loads(data, limits.max_depth)
    except UnsafeInput as exc:
        report.add(exc.path, exc.message)
        return None
    except ExceptionGroup as group:
        for exc in group.exceptions:
            assert isinstance(exc, UnsafeInput)
            report.add(exc.path, exc.message)
        return None
    if not isinstance(doc, dict):
        report.add("$", f"a result is a JSON object, not {type(doc).__name__}")
        return None
    errors = sorted(_schema_validator().iter_errors(doc), key=lambda e: list(map(str, e.path)))
    for err in errors:
        report.add(*_schema_problem(err))
    if errors:
        return None
    return doc


def model_result(report: Report, doc: dict[str, Any]) -> RunResult | None:
    try:
        return RunResult.model_validate(doc, strict=True)
    except ValidationError as exc:
        for e in exc.errors():
            report.add(json_path(list(e["loc"])), short_message(e["msg"]))
        return None
