"""Layers 1-3 of validation: safe parsing, the shipped JSON Schema, the pydantic model.

The JSON Schema is the one ``bench schema`` prints, so a submitter's own schema check
and the board's agree; its errors point inside ``anyOf`` branches so that a problem names
the field that is wrong rather than the union that holds it. Each field gets one message
that says what the rule is in words (``lossybench.engine.results.PATTERNS``), not the
regex, and which character broke it when it is an unsafe one.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from pydantic import ValidationError

from lossybench.engine.results import PATTERNS, STATED, RunResult, shipped_schema, string_problem
from lossybench.leaderboard.problems import Report, short_message
from lossybench.leaderboard.safejson import Limits, UnsafeInput, clean_text, json_path, loads

#: When one field breaks several rules, the message of the most telling one is shown.
_PRIORITY = {"not": 0, "const": 1, "enum": 1, "pattern": 2, "minLength": 3, "maxLength": 3}
_SCHEMA_HINT = "; `bench schema` prints the format, and `bench run` writes results that keep it"


@functools.cache
def _schema_validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(
        shipped_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def _specific(err: Any) -> Any:
    """The error inside an anyOf/oneOf branch whose type matched, or ``err`` itself."""
    from jsonschema.exceptions import best_match

    if err.validator in ("anyOf", "oneOf") and err.context:
        # only branches whose type matched say something about this value
        wrong_type = {e.relative_schema_path[0] for e in err.context if e.validator == "type"}
        specific = [e for e in err.context if e.relative_schema_path[0] not in wrong_type]
        if specific:
            return _specific(best_match(specific))
    return err


def _schema_problem(err: Any) -> tuple[str, str]:
    """(JSON path, message) of a schema error, pointing inside anyOf branches."""
    inner = _specific(err)
    where = list(err.absolute_path)
    if inner is not err:
        where += list(inner.absolute_path)[len(where):]
    return json_path(where), f"schema: {_schema_message(err, inner)}"


def _quoted(value: Any) -> str:
    return clean_text(repr(value), 120)


def _schema_message(err: Any, inner: Any) -> str:
    if inner is err and err.validator in ("anyOf", "oneOf") and err.context:
        # no branch's type matched: name them all rather than an arbitrary one
        types = " or ".join(dict.fromkeys(
            repr(e.validator_value) for e in err.context if e.validator == "type"))
        return f"{short_message(repr(err.instance))} is not of type {types}"
    key = "key " if "propertyNames" in inner.relative_schema_path else ""
    v, value = inner.validator, inner.instance
    if v == "not" and isinstance(value, str):
        why = string_problem(value, name=True) or "is not allowed here"
        return f"{key}{_quoted(value)} {why}"
    if v == "pattern" and isinstance(value, str):
        rule = PATTERNS.get(inner.validator_value, f"does not match {inner.validator_value!r}")
        return f"{key}{_quoted(value)} {rule}"
    if v == "minLength" and isinstance(value, str) and not value:
        if key:
            return "has an empty key; keys name something, so they must be given"
        return "is empty; it names something, so it must be given"
    if v == "const":
        got = clean_text(json.dumps(value, ensure_ascii=True), 120)
        return f"is {got}; it must be {json.dumps(inner.validator_value)}"
    if v == "maxLength" and isinstance(value, str):
        return (f"{key}is {len(value)} characters long, over the cap of "
                f"{inner.validator_value}")
    if v == "required":
        return short_message(inner.message) + _SCHEMA_HINT
    return short_message(inner.message)


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
    errors = list(_schema_validator().iter_errors(doc))
    # one message per field: the most telling rule it breaks ("required" and
    # "additionalProperties" name their key, so each of those is kept)
    best: dict[tuple[str, str], tuple[int, str]] = {}
    for err in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        path, message = _schema_problem(err)
        inner = _specific(err)
        rank = _PRIORITY.get(inner.validator, 5)
        slot = (path, message if inner.validator in ("required", "additionalProperties") else "")
        if slot not in best or rank < best[slot][0]:
            best[slot] = (rank, message)
    for (path, _), (_, message) in best.items():
        report.add(path, message)
    if errors:
        return None
    return doc


def model_result(report: Report, doc: dict[str, Any]) -> RunResult | None:
    try:
        return RunResult.model_validate(doc, strict=True, context=STATED)
    except ValidationError as exc:
        for e in exc.errors():
            report.add(json_path(list(e["loc"])), short_message(e["msg"]))
        return None
