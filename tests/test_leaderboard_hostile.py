"""Hostile submissions (issue 18): a checked-in corpus, and property-based mutations.

The corpus (``leaderboard_fixtures/hostile/cases.json``) lists edits of an honest result,
each with the refusal it must get; every case goes through ``validate`` and ``submit``,
as functions and on the command line, and must be refused with one clear line
(``FILE: JSON-PATH: message``), no traceback, and the board byte-for-byte unchanged.

The property tests mutate the honest result at random (types, values, deletions,
insertions, unicode in values and keys) and check what must hold for *any* input:
validate and submit never raise nor print a traceback, they agree, a refused file never
changes the board, an accepted one carries no unsafe string, and the shipped JSON
Schema and the pydantic model accept exactly the same strings.
"""

from __future__ import annotations

import contextlib
import copy
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from leaderboard_fixtures.factory import (
    DATASET_SHA,
    board_holding_another_model,
    make_result,
    mutate,
    parse_path,
    snapshot,
    string_paths,
    toy_registry,
)
from pydantic import ValidationError
from typer.testing import CliRunner

from lossybench.engine.results import STATED, RunResult, string_problem
from lossybench.leaderboard import cli as lb_cli
from lossybench.leaderboard.board import Board
from lossybench.leaderboard.schema import _schema_validator
from lossybench.leaderboard.validate import validate_file

CORPUS = Path(__file__).parent / "leaderboard_fixtures" / "hostile" / "cases.json"
CASES: list[dict[str, Any]] = json.loads(CORPUS.read_text())["cases"]
CLASSES = {"previously-accepted", "control", "bidi-invisible", "empty", "path",
           "template-markup", "length", "required-constant", "records"}


@pytest.fixture(scope="module")
def reg() -> Any:
    return toy_registry()


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    """The honest result every case edits, and its per-image JSONL."""
    path, jsonl = make_result(tmp_path_factory.mktemp("honest"), "honest", n=8)
    assert jsonl is not None
    return json.loads(path.read_text()), jsonl.read_text()


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory, reg: Any) -> Path:
    """A default board that knows the dataset and already holds another model's entries."""
    return board_holding_another_model(tmp_path_factory.mktemp("board") / "board",
                                       tmp_path_factory.mktemp("other"), reg, resamples=10)


@pytest.fixture(scope="module")
def cli(reg: Any) -> Iterator[CliRunner]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lb_cli, "registry", lambda ctx=None: reg)
        yield CliRunner()


def write(folder: Path, doc: Any, records: str | None, ensure_ascii: bool = True) -> Path:
    """``folder/sub.json`` (and, unless ``records`` is None, ``sub.jsonl`` next to it)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sub.json"
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=ensure_ascii), encoding="utf-8")
    jsonl = path.with_suffix(".jsonl")
    if records is None:
        jsonl.unlink(missing_ok=True)
    else:
        jsonl.write_text(records)
    return path


def clean_line(line: str) -> bool:
    """One readable line: FILE: PATH: message, with no unsafe character left in it."""
    return line.count(": ") >= 2 and string_problem(line) is None


def no_traceback(res: Any) -> None:
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert "Traceback" not in res.output


# -- the corpus ---------------------------------------------------------------------------
def test_the_corpus_covers_every_class() -> None:
    assert len(CASES) >= 60 and len({c["id"] for c in CASES}) == len(CASES)
    assert {c["class"] for c in CASES} == CLASSES
    assert sum(c["class"] == "previously-accepted" for c in CASES) >= 11


def test_the_honest_base_is_accepted(tmp_path: Path, honest: tuple[dict[str, Any], str],
                                     reg: Any, cli: CliRunner) -> None:
    """Otherwise every refusal below would prove nothing."""
    path = write(tmp_path, *honest)
    report = validate_file(path, reg)
    assert report.ok and report.records is not None, [p.line() for p in report.problems]
    assert cli.invoke(lb_cli.app, ["validate", str(path)]).exit_code == 0


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_a_hostile_variant_is_refused_and_the_board_unchanged(
    case: dict[str, Any], tmp_path: Path, honest: tuple[dict[str, Any], str], reg: Any,
    board: Path, cli: CliRunner,
) -> None:
    doc, records = honest
    path = write(tmp_path, mutate(doc, case["ops"]),
                 records if case["records"] == "keep" else None)
    report = validate_file(path, reg)
    lines = [p.line() for p in report.problems]
    assert not report.ok, f"{case['id']} was accepted"
    hits = [p for p in report.problems if case["expect"] in p.message]
    assert hits, f"{case['id']}: expected {case['expect']!r} in {lines}"
    if case["at"]:
        assert any(p.path == case["at"] for p in hits), f"{case['id']}: path not in {lines}"
    assert all(clean_line(line) for line in lines), lines

    res = cli.invoke(lb_cli.app, ["validate", str(path)])
    no_traceback(res)
    assert res.exit_code == 1 and case["expect"] in res.stdout

    before = snapshot(board)
    outcome = Board(board).submit([path], reg, resamples=0)
    assert not outcome.ok and not outcome.accepted
    assert any(case["expect"] in p.message for r in outcome.reports for p in r.problems)
    res = cli.invoke(lb_cli.app, ["submit", str(path), "--board", str(board)])
    no_traceback(res)
    assert res.exit_code == 1 and "rejected: the board is unchanged" in res.stderr
    assert snapshot(board) == before


# -- the board's opt-out for results without records -----------------------------------
def test_unverified_results_need_a_board_that_takes_them(
    tmp_path: Path, honest: tuple[dict[str, Any], str], reg: Any, cli: CliRunner
) -> None:
    doc, _ = honest
    path = write(tmp_path / "r", doc, None)
    root = tmp_path / "b"
    assert cli.invoke(lb_cli.app, ["init", "--board", str(root)]).exit_code == 0
    assert cli.invoke(lb_cli.app, ["datasets", "add", "--board", str(root), "imagenet-samples",
                                   DATASET_SHA]).exit_code == 0
    before = snapshot(root)
    # a default board: refused, and the flag does not open it
    res = cli.invoke(lb_cli.app, ["submit", str(path), "--board", str(root)])
    assert res.exit_code == 1 and "refused without their records" in res.stdout
    res = cli.invoke(lb_cli.app, ["submit", str(path), "--board", str(root),
                                  "--allow-unverified"])
    no_traceback(res)
    assert res.exit_code == 2 and "init --board" in res.stderr and "--allow-unverified" in \
        res.stderr
    assert snapshot(root) == before
    # validate says the same, unless asked to check the numbers' consistency only
    assert cli.invoke(lb_cli.app, ["validate", str(path)]).exit_code == 1
    res = cli.invoke(lb_cli.app, ["validate", str(path), "--allow-unverified"])
    assert res.exit_code == 0 and "unverified" in res.stderr
    # the admin opens the board; the submitter still has to ask
    res = cli.invoke(lb_cli.app, ["init", "--board", str(root), "--allow-unverified"])
    assert res.exit_code == 0 and "takes unverified results" in res.stderr
    assert json.loads((root / "index.json").read_text())["allow_unverified"] is True
    assert cli.invoke(lb_cli.app, ["submit", str(path), "--board", str(root)]).exit_code == 1
    res = cli.invoke(lb_cli.app, ["submit", str(path), "--board", str(root),
                                  "--allow-unverified", "--bootstrap", "0"])
    assert res.exit_code == 0, res.output
    # an honest result with its records is verified on the same board
    good, _ = make_result(tmp_path / "g", "good", model="timm:verified_net", n=8)
    res = cli.invoke(lb_cli.app, ["submit", str(good), "--board", str(root), "--bootstrap", "0"])
    assert res.exit_code == 0, res.output
    shown = json.loads(cli.invoke(lb_cli.app, ["show", "--board", str(root), "--json"]).stdout)
    verified = {(r["model"], r["codec_label"]): r["verified"] for r in shown["boards"][0]["rows"]}
    assert verified == {("timm:toy_net", "jpeg"): False, ("timm:toy_net", "webp"): False,
                        ("timm:verified_net", "jpeg"): True, ("timm:verified_net", "webp"): True}
    table = cli.invoke(lb_cli.app, ["show", "--board", str(root)]).stdout
    assert table.count("(unverified)") >= 2
    res = cli.invoke(lb_cli.app, ["render", "--board", str(root), "--out", str(tmp_path / "s")])
    assert res.exit_code == 0, res.output
    page = (tmp_path / "s" / "index.html").read_text()
    md = (tmp_path / "s" / "leaderboard.md").read_text()
    assert page.count(">unverified</span>") == 2 and md.count("(unverified)") == 2
    # closing the board again keeps what is on it, and refuses new unverified results
    assert cli.invoke(lb_cli.app, ["init", "--board", str(root), "--require-records"]) \
        .exit_code == 0
    assert "allow_unverified" not in json.loads((root / "index.json").read_text())
    assert len(Board(root).entries()) == 4


def test_a_default_board_index_is_unchanged_by_the_setting(tmp_path: Path) -> None:
    """Boards made before the setting existed read, and are written, as they were."""
    b = Board(tmp_path / "b")
    b.init()
    assert json.loads((b.root / "index.json").read_text()) == {
        "format": "lossybench-board/1", "datasets": [], "entries": []}
    assert b.index().allow_unverified is False


# -- property-based mutations ---------------------------------------------------------------
LEAVES = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
          | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12))
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)


def node_paths(node: Any, at: str = "$") -> list[str]:
    """The JSON path of every value below ``node`` (lists: their first three items)."""
    out: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            p = at + (f".{k}" if k.isidentifier() else "[" + json.dumps(k) + "]")
            out += [p, *node_paths(v, p)]
    elif isinstance(node, list):
        for i, v in enumerate(node[:3]):
            p = f"{at}[{i}]"
            out += [p, *node_paths(v, p)]
    return out


def get(doc: Any, path: str) -> Any:
    for p in parse_path(path):
        doc = doc[p]
    return doc


@st.composite
def mutations(draw: st.DrawFn, doc: dict[str, Any]) -> list[list[Any]]:
    """One to three edits: a new value, a deletion, an insertion, a character inserted
    into a string or a key, or a number nudged."""
    ops: list[list[Any]] = []
    current = doc
    for _ in range(draw(st.integers(1, 3))):
        paths = node_paths(current)
        path = draw(st.sampled_from(paths))
        value = get(current, path)
        kind = draw(st.sampled_from(["set", "delete", "insert", "char", "key", "nudge"]))
        if kind == "char" and isinstance(value, str):
            i = draw(st.integers(0, len(value)))
            c = draw(st.characters(codec="utf-8") | st.sampled_from(
                ["\x00", "\x1b", "\n", "\u202e", "\u2066", "\u200b", "\ufeff", "\U000e0041"]))
            op = ["set", path, value[:i] + c + value[i:]]
        elif kind == "key" and isinstance(value, dict):
            op = ["insert", path + "[" + json.dumps(draw(st.text(max_size=8))) + "]",
                  draw(VALUES)]
        elif kind == "insert" and isinstance(value, list):
            op = ["insert", f"{path}[{draw(st.integers(0, len(value)))}]", draw(VALUES)]
        elif kind == "nudge" and isinstance(value, int | float) and not isinstance(value, bool):
            op = ["set", path, value * draw(st.sampled_from([-1, 0, 1 + 1e-6, 1.1, 2, 1e9]))]
        elif kind == "delete":
            op = ["delete", path]
        else:
            op = ["set", path, draw(VALUES)]
        ops.append(op)
        current = mutate(current, [op])
    return ops


@contextlib.contextmanager
def fresh_board(reg: Any) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="lb-hyp-") as tmp:
        b = Board(Path(tmp) / "board")
        b.init()
        b.add_dataset("imagenet-samples", DATASET_SHA, 8)
        yield b.root


def safe_everywhere(doc: Any) -> bool:
    """Every string and every key of ``doc`` keeps the text rule."""
    if isinstance(doc, str):
        return string_problem(doc) is None
    if isinstance(doc, dict):
        return all(safe_everywhere(k) and safe_everywhere(v) for k, v in doc.items())
    if isinstance(doc, list):
        return all(safe_everywhere(v) for v in doc)
    return True


@settings(max_examples=100, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_mutation_is_refused_cleanly_or_accepted_safely(
    data: st.DataObject, honest: tuple[dict[str, Any], str], reg: Any, cli: CliRunner
) -> None:
    doc, records = honest
    ops = data.draw(mutations(doc), label="ops")
    keep = data.draw(st.booleans(), label="records next to it")
    ascii_only = data.draw(st.booleans(), label="ensure_ascii")
    mutated = mutate(doc, ops)
    with tempfile.TemporaryDirectory(prefix="lb-hyp-") as tmp:
        path = write(Path(tmp), mutated, records if keep else None, ascii_only)
        report = validate_file(path, reg)  # must not raise
        assert all(p.message and p.path.startswith(("$", "line")) for p in report.problems)
        assert all(clean_line(p.line()) for p in report.problems)
        res = cli.invoke(lb_cli.app, ["validate", str(path)])
        no_traceback(res)
        assert res.exit_code == (0 if report.ok else 1)
        with fresh_board(reg) as root:
            before = snapshot(root)
            if data.draw(st.booleans(), label="on the command line"):
                res = cli.invoke(lb_cli.app, ["submit", str(path), "--board", str(root),
                                              "--bootstrap", "0"])
                no_traceback(res)
                accepted = res.exit_code == 0
                assert res.exit_code in (0, 1)
            else:
                accepted = Board(root).submit([path], reg, resamples=0).ok
            assert accepted == report.ok
            event("accepted" if accepted else "refused")
            if not accepted:
                assert snapshot(root) == before
            else:  # nothing unsafe gets onto the board, and it has its records
                assert keep and safe_everywhere(json.loads(path.read_text()))
                assert all(e.verified for e in Board(root).entries())


def schema_accepts(doc: Any) -> bool:
    return not any(True for _ in _schema_validator().iter_errors(doc))


def model_accepts(doc: Any) -> bool:
    try:
        RunResult.model_validate(doc, strict=True, context=STATED)
    except ValidationError:
        return False
    return True


TEXT = st.text(max_size=12) | st.text(st.characters(codec="utf-8"), max_size=4).map(
    lambda s: "jpeg" + s) | st.sampled_from(
    ["", ".", "..", "a/../b", "/abs", "jpeg\n", "x" * 201, "cuda:0", "2.1.0+cu121", "?",
     "top1", "2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z\n", "a\u202eb", "ok\x85"])


@settings(max_examples=150, deadline=None, database=None)
@given(data=st.data())
def test_the_schema_and_the_model_accept_the_same_strings(
    data: st.DataObject, honest: tuple[dict[str, Any], str]
) -> None:
    """``bench schema`` (what submitters check with), the pydantic model (what `bench run`
    writes with) and the leaderboard agree on every string and key."""
    doc = copy.deepcopy(honest[0])
    path = data.draw(st.sampled_from(string_paths(doc)), label="string")
    parts = parse_path(path)
    node = doc
    for p in parts[:-1]:
        node = node[p]
    value = data.draw(TEXT, label="value")
    if data.draw(st.booleans(), label="as a key"):
        if isinstance(node, dict):
            node[value] = node.pop(parts[-1])
    else:
        node[parts[-1]] = value
    assert schema_accepts(doc) == model_accepts(doc), (path, value)
