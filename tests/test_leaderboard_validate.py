"""Hostile submissions: each is rejected with a clear message and the board is unchanged.

Every case starts from an honest result made exactly as ``bench run`` makes one (see
``leaderboard_fixtures.factory``) and breaks one thing. The board the cases are
submitted to already holds entries; its bytes are compared before and after.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from leaderboard_fixtures.factory import (
    board_holding_another_model,
    make_result,
    refresh_summaries,
    snapshot,
    toy_registry,
    write_pair,
)
from typer.testing import CliRunner

from lossybench.leaderboard import cli as lb_cli
from lossybench.leaderboard.board import Board, BoardError
from lossybench.leaderboard.safejson import Limits, clean_text, loads, nesting_depth
from lossybench.leaderboard.validate import validate_file


@dataclass
class Base:
    doc: dict[str, Any]
    text: str
    records: list[dict[str, Any]]

    def records_text(self, records: list[dict[str, Any]] | None = None) -> str:
        return "".join(json.dumps(r, sort_keys=True) + "\n" for r in records or self.records)


@pytest.fixture(scope="module")
def reg() -> Any:
    return toy_registry()


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    out = tmp_path_factory.mktemp("honest")
    path, jsonl = make_result(out, "honest", n=8)
    assert jsonl is not None
    lines = [json.loads(x) for x in jsonl.read_text().splitlines()]
    return Base(json.loads(path.read_text()), path.read_text(), lines)


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory, reg: Any) -> Path:
    """A board that knows the dataset and already holds another model's entries."""
    return board_holding_another_model(tmp_path_factory.mktemp("board") / "board",
                                       tmp_path_factory.mktemp("other"), reg, resamples=20)


# -- how cases are built ------------------------------------------------------------------
Builder = Callable[[Path, Base], Path]


def edit(fn: Callable[[dict[str, Any]], Any], refresh: bool = False) -> Builder:
    """Change the parsed result (optionally recomputing the summaries honestly)."""

    def build(tmp: Path, base: Base) -> Path:
        doc = copy.deepcopy(base.doc)
        fn(doc)
        if refresh:
            refresh_summaries(doc)
        p = tmp / "sub.json"
        write_pair(p, doc)  # the records stay the honest ones, as stated
        p.with_suffix(".jsonl").write_text(base.records_text())
        return p

    return build


def raw(fn: Callable[[str], str | bytes]) -> Builder:
    """Change the result's text (for what a parsed dict cannot hold)."""

    def build(tmp: Path, base: Base) -> Path:
        p = tmp / "sub.json"
        data = fn(base.text)
        p.write_bytes(data if isinstance(data, bytes) else data.encode())
        (tmp / "sub.jsonl").write_text(base.records_text())
        return p

    return build


def recs(fn: Callable[[list[dict[str, Any]]], Any], fix_sha: bool = True,
         doc_fn: Callable[[dict[str, Any]], Any] | None = None) -> Builder:
    """Change the per-image records (restating their sha256 unless ``fix_sha`` is False)."""

    def build(tmp: Path, base: Base) -> Path:
        lines = copy.deepcopy(base.records)
        fn(lines)
        doc = copy.deepcopy(base.doc)
        if doc_fn:
            doc_fn(doc)
        p = tmp / "sub.json"
        text = base.records_text(lines)
        if fix_sha:
            write_pair(p, doc, text)
        else:
            write_pair(p, doc)
            p.with_suffix(".jsonl").write_text(text)
        return p

    return build


def put(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def fn(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for k in parents:
            node = node[int(k)] if k.isdigit() else node[k]
        node[int(last) if last.isdigit() else last] = value

    return fn


def nudge(path: str, delta: float) -> Callable[[dict[str, Any]], None]:
    def fn(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for k in parents:
            node = node[int(k)] if k.isdigit() else node[k]
        node[last] = node[last] + delta

    return fn


def nested(depth: int) -> Callable[[str], str]:
    def fn(text: str) -> str:
        doc = json.loads(text)
        doc["config"]["seed"] = 0
        return text.replace('"seed": 0', '"seed": ' + "[" * depth + "]" * depth, 1)

    return fn


@dataclass
class Case:
    id: str
    build: Builder
    expect: str
    path: str = ""
    limits: Limits | None = None
    board_only: bool = False
    submit: dict[str, Any] = field(default_factory=dict)


CASES = [
    # wrong types
    Case("string-for-number", edit(put("codecs.0.points.1.bpp_mean", "0.2")),
         "is not of type 'number'", "$.codecs[0].points[1].bpp_mean"),
    Case("float-for-int", edit(put("clean.images", 7.5)), "is not of type 'integer'",
         "$.clean.images"),
    Case("object-for-list", edit(put("codecs", {"jpeg": 1})), "is not of type 'array'",
         "$.codecs"),
    Case("bool-for-number", edit(put("wall_seconds", True)), "is not of type 'number'",
         "$.wall_seconds"),
    Case("top-level-array", raw(lambda t: "[" + t + "]"), "a result is a JSON object"),
    Case("not-json", raw(lambda t: t[:-20]), "not valid JSON"),
    Case("empty-file", raw(lambda t: ""), "not valid JSON"),
    Case("not-utf8", raw(lambda t: b"\xff\xfe" + t.encode("utf-16-le")), "not UTF-8"),
    # NaN / Infinity
    Case("nan", raw(lambda t: t.replace('"wall_seconds": 12.5', '"wall_seconds": NaN')),
         "NaN is not a number JSON allows", "$.wall_seconds"),
    Case("infinity", raw(lambda t: t.replace('"wall_seconds": 12.5',
                                             '"wall_seconds": -Infinity')),
         "-Infinity is not a number JSON allows", "$.wall_seconds"),
    Case("overflow-to-inf", raw(lambda t: t.replace('"wall_seconds": 12.5',
                                                    '"wall_seconds": 1e999')),
         "overflows to infinity", "$.wall_seconds"),
    Case("huge-integer", edit(put("clean.failures", 10**30)), "out of range", "$.clean.failures"),
    # negative or absurd bpp
    Case("negative-bpp", edit(put("codecs.0.points.2.bpp_mean", -0.3)),
         "less than the minimum of 0", "$.codecs[0].points[2].bpp_mean"),
    Case("zero-bpp", edit(put("codecs.0.points.2.bpp_mean", 0.0), refresh=True),
         "bpp is outside (0, 24]", "$.codecs[0].points[2].bpp_mean"),
    Case("absurd-bpp", edit(put("codecs.1.points.6.bpp_mean", 1e6), refresh=True),
         "bpp is outside (0, 24]", "$.codecs[1].points[6].bpp_mean"),
    Case("absurd-target", edit(put("settings.points.6", 500.0)), "outside (0, 24]",
         "$.settings.points[6]"),
    Case("negative-target", edit(put("codecs.0.points.0.target", -0.1)),
         "less than or equal to the minimum of 0", "$.codecs[0].points[0].target"),
    Case("unsorted-targets", edit(put("settings.points", [0.2, 0.1, 0.3, 0.5, 1, 2, 2.5])),
         "unique and in increasing order", "$.settings.points"),
    Case("absurd-psnr", edit(put("codecs.0.points.3.psnr_mean", 1e5)), "outside [0, 200]",
         "$.codecs[0].points[3].psnr_mean"),
    # metrics out of range
    Case("metric-above-1", edit(put("clean.metrics.top1", 1.7), refresh=True),
         "outside the metric range [0, 1]", "$.clean.metrics.top1"),
    Case("metric-negative", edit(put("codecs.1.points.0.metrics.top1", -0.2), refresh=True),
         "outside the metric range", "$.codecs[1].points[0].metrics.top1"),
    Case("unknown-metric", edit(put("clean.metrics.top9", 0.5)), "unknown metric 'top9'"),
    # size caps
    Case("result-over-default-cap", raw(lambda t: t + " " * (5 * 1024 * 1024)),
         "over the cap of 5242880 bytes"),
    Case("result-over-set-cap", raw(lambda t: t), "over the cap of 4096 bytes",
         limits=Limits(max_bytes=4096)),
    Case("records-over-cap", edit(lambda d: None), "records file is", "$",
         limits=Limits(max_records_bytes=2000)),
    Case("records-line-over-cap", recs(lambda r: r[1]["outcome"].update(pad="x" * 5000)),
         "over the cap of 4096", limits=Limits(max_line_bytes=4096)),
    # deeply nested JSON
    Case("nested-200", raw(nested(200)), "levels deep, over the cap of 64"),
    Case("nested-100000", raw(nested(100_000)), "levels deep, over the cap of 64"),
    Case("nested-records",
         recs(lambda r: r[1]["outcome"].update(x=json.loads("[" * 80 + "]" * 80))),
         "levels deep, over the cap of 64", "line 2: $"),
    # duplicate keys
    Case("duplicate-key", raw(lambda t: t.replace('"wall_seconds": 12.5',
                                                  '"wall_seconds": 12.5, "wall_seconds": 1')),
         "duplicate key \"wall_seconds\"", "$"),
    Case("duplicate-key-nested", raw(lambda t: t.replace('"area": ', '"area": 0, "area": ', 1)),
         "duplicate key \"area\"", "$.codecs[0].summary"),
    # unknown fields
    Case("unknown-top-field", edit(put("kind_extra", 1)), "Additional properties are not "
         "allowed ('kind_extra' was unexpected)", "$"),
    Case("unknown-nested-field", edit(put("codecs.0.summary.bonus", 1.0)),
         "('bonus' was unexpected)", "$.codecs[0].summary"),
    Case("unknown-record-field", recs(lambda r: r[2].update(secret=1)), "Extra inputs are not "
         "permitted", "line 3: $.secret"),
    # HTML / script in names
    Case("script-in-model-name", edit(put("model.name", "<script>alert(1)</script>")),
         "is not a valid name", "$.model.name"),
    Case("html-in-codec-label", edit(put("codecs.0.label", '"><img src=x onerror=alert(1)>')),
         "is not a valid name", "$.codecs[0].label"),
    Case("ansi-in-name", edit(put("dataset.name", "\x1b[2J\x1b[31mred")),
         "contains U+001B", "$.dataset.name"),
    # path traversal in names or ids
    Case("traversal-model", edit(put("model.name", "x/../../../etc/passwd")),
         "contains a path traversal", "$.model.name"),
    Case("traversal-dataset", edit(put("dataset.name", "a/./b")), "contains a path traversal",
         "$.dataset.name"),
    Case("traversal-leading-dots", edit(put("codecs.0.name", "../jpeg")),
         "contains a path traversal", "$.codecs[0].name"),
    Case("traversal-records-file", edit(put("records.file", "../../x.jsonl")),
         "must be the plain file name of the JSONL", "$.records.file"),
    Case("traversal-image-id", recs(lambda r: r[1].update(image="../../../etc/passwd")),
         "contains a path traversal", "line 2"),
    # inconsistent aggregates
    Case("area-stated-wrong", edit(nudge("codecs.0.summary.area", 0.01)),
         "recomputation from the points gives", "$.codecs[0].summary.area"),
    Case("robustness-stated-wrong", edit(nudge("codecs.1.summary.robustness", 1e-6)),
         "recomputation from the points gives", "$.codecs[1].summary.robustness"),
    Case("area-stated-undefined", edit(put("codecs.0.summary.area", None)),
         "states null but recomputation", "$.codecs[0].summary.area"),
    Case("at-value-wrong", edit(nudge("codecs.0.summary.at.0.value", 0.05)),
         "but the points give", "$.codecs[0].summary.at[0].value"),
    Case("relative-drop-wrong", edit(nudge("codecs.0.summary.at.1.relative_drop", -0.05)),
         "but the points give", "$.codecs[0].summary.at[1].relative_drop"),
    Case("metric-vs-records", edit(nudge("codecs.0.points.0.metrics.top1", 0.125),
                                   refresh=True),
         "the records give", "$.codecs[0].points[0].metrics.top1"),
    Case("clean-vs-records", edit(nudge("clean.metrics.top1", -0.125), refresh=True),
         "the records give", "$.clean.metrics.top1"),
    Case("bpp-vs-records", edit(nudge("codecs.1.points.2.bpp_mean", 0.01), refresh=True),
         "the records give", "$.codecs[1].points[2].bpp_mean"),
    Case("counts-vs-images", edit(put("dataset.images", 9)), "should be 9",
         "$.clean.images"),
    Case("limit-below-images", edit(lambda d: (put("settings.limit", 4)(d),
                                               put("config.limit", 4)(d))),
         "the run was limited to 4 images", "$.dataset.images"),
    Case("point-counts", edit(put("codecs.0.points.0.failures", 1)), "should equal",
         "$.codecs[0].points[0].images"),
    Case("flagged-over-images", edit(put("codecs.0.points.0.flagged", 99)),
         "flagged images but only", "$.codecs[0].points[0].flagged"),
    Case("duplicate-codec-label", edit(lambda d: d["codecs"].append(copy.deepcopy(
        d["codecs"][0]))), "appears more than once", "$.codecs[2].label"),
    Case("headline-not-task", edit(put("task.headline", "top5")), "reports 'top1'",
         "$.task.headline"),
    Case("records-not-these", recs(lambda r: r[1]["outcome"].update(
        correct=not r[1]["outcome"]["correct"]),
                                   fix_sha=False), "not the same records", "$.records.sha256"),
    Case("records-count", edit(nudge("records.count", 1)), "states", "$.records.count"),
    Case("records-outcome-forged", recs(lambda r: [x["outcome"].update(correct="yes")
                                                   for x in r[1:] if x.get("outcome")]),
         "the records give"),
    Case("records-outcome-malformed", recs(lambda r: r[3]["outcome"].pop("correct")),
         "cannot aggregate the records' outcomes", "$.codecs[0].points"),
    Case("records-unknown-codec", recs(lambda r: r.append({**r[2], "codec": "ghost"})),
         "has records", "$.codecs"),
    Case("records-duplicate", recs(lambda r: r.append(dict(r[2]))), "duplicate record"),
    Case("records-other-config", recs(lambda r: r[0].update(config_sha256="0" * 64)),
         "different run configuration", "line 1: $.config_sha256"),
    Case("records-bad-bpp", recs(lambda r: r[2].update(bpp=-1.0)), "outside (0, 24]", "line 3"),
    Case("config-disagrees", edit(put("config.model", "timm:resnet50")),
         "the result is for", "$.config.model"),
    Case("created-in-future", edit(put("created", "2999-01-01T00:00:00Z")), "future",
         "$.created"),
    Case("created-not-iso", edit(put("created", "yesterday")), "ISO 8601", "$.created"),
    Case("lone-surrogate", raw(lambda t: t.replace('"platform": "Linux-x86_64"',
                                                   '"platform": "Linux\\ud800"')),
         "lone UTF-16 surrogate", "$.environment.platform"),
    # missing provenance
    Case("no-weights-hash", edit(put("model.weights.sha256", None)),
         "missing provenance", "$.model.weights.sha256"),
    Case("no-backend-version", edit(put("codecs.1.backend.version", "")),
         "is empty", "$.codecs[1].backend.version"),
    Case("blank-backend-version", edit(put("codecs.1.backend.version", "  ")),
         "missing provenance", "$.codecs[1].backend.version"),
    Case("unknown-backend", edit(put("codecs.0.backend.library", "?")),
         "missing provenance", "$.codecs[0].backend.library"),
    Case("no-tool-version", edit(put("lossybench.version", " ")), "is not a valid version",
         "$.lossybench.version"),
    Case("no-plugins", edit(put("lossybench.plugins", [])), "missing provenance",
         "$.lossybench.plugins"),
    Case("no-torch-version", edit(put("environment.torch", "")), "is not a valid version",
         "$.environment.torch"),
    Case("no-environment", edit(lambda d: d.pop("environment")),
         "'environment' is a required property", "$"),
    # tasks this installation does not have
    Case("unregistered-task", edit(lambda d: (put("task.name", "os")(d),
                                              put("model.task", "os")(d))),
         "unknown task 'os'", "$.task.name"),
    # board-level
    Case("unknown-dataset-hash", edit(put("dataset.sha256", "f" * 64)),
         "is not registered on this board", "$.dataset.sha256", board_only=True),
    Case("records-required", edit(lambda d: None), "refused without their records",
         "$.records", board_only=True, submit={"records": False}),
    Case("duplicate-entry", lambda tmp, base: _other(tmp), "already on the board", "$.codecs",
         board_only=True),
]


def _other(tmp: Path) -> Path:
    """The same model, weights, codecs and dataset as the entries already on the board."""
    p, _ = make_result(tmp, "dup", model="timm:other", n=8, seed=5)
    return p


def test_the_honest_result_is_valid(tmp_path: Path, base: Base, reg: Any) -> None:
    p = edit(lambda d: None)(tmp_path, base)
    report = validate_file(p, reg)
    assert report.ok, [x.line() for x in report.problems]
    assert report.records is not None and report.notes == []


def test_float_noise_within_tolerance_is_accepted(tmp_path: Path, base: Base, reg: Any) -> None:
    def jiggle(doc: dict[str, Any]) -> None:
        s = doc["codecs"][0]["summary"]
        s["area"] *= 1 + 1e-12
        s["robustness"] *= 1 - 1e-12

    report = validate_file(edit(jiggle)(tmp_path, base), reg)
    assert report.ok, [x.line() for x in report.problems]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_submission_is_rejected_and_board_unchanged(
    case: Case, tmp_path: Path, base: Base, reg: Any, board: Path
) -> None:
    path = case.build(tmp_path, base)
    report = validate_file(path, reg, limits=case.limits)
    lines = [p.line() for p in report.problems]
    if not case.board_only:
        assert not report.ok, f"{case.id} was accepted"
        hits = [p for p in report.problems if case.expect in p.message]
        assert hits, f"{case.id}: expected {case.expect!r} in {lines}"
        if case.path:
            assert any(p.path == case.path for p in hits), f"{case.id}: path not in {lines}"
        for line in lines:  # one readable line each: file, path, message; no raw control chars
            assert line.count(": ") >= 2 and "\x1b" not in line and "\n" not in line
    before = snapshot(board)
    outcome = Board(board).submit([path], reg, limits=case.limits, resamples=10, **case.submit)
    assert not outcome.ok
    msgs = [p.message for r in outcome.reports for p in r.problems]
    assert any(case.expect in m for m in msgs), msgs
    assert snapshot(board) == before


def test_count_of_hostile_cases() -> None:
    # the report quotes this number; keep it in sync when adding cases
    assert len(CASES) + len(EXTRA_HOSTILE) == 92


# -- cases that are not a file edit ------------------------------------------------------
EXTRA_HOSTILE = [
    "fifo", "dev-zero", "directory", "missing-file", "never-imports", "remove-bad-id",
    "finetuned-from-bad-id", "batch-all-or-nothing", "batch-duplicate",
    "no-board", "index-tampered", "entry-tampered",
]


def test_special_files_are_refused_without_reading_them(tmp_path: Path, reg: Any,
                                                        board: Path) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    before = snapshot(board)
    for path, expect in [(fifo, "not a regular file"), (Path("/dev/zero"), "not a regular file"),
                         (tmp_path, "not a regular file"),
                         (tmp_path / "missing.json", "cannot read")]:
        report = validate_file(path, reg)
        assert not report.ok and expect in report.problems[0].message
        assert not Board(board).submit([path], reg).ok
    assert snapshot(board) == before


def test_nothing_named_in_a_submission_is_imported(tmp_path: Path, base: Base,
                                                   board: Path) -> None:
    """A task, family and codec named after an importable module: never imported."""
    mod = tmp_path / "mods"
    mod.mkdir()
    marker = tmp_path / "imported"
    (mod / "evil_lb_plugin.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    sys.path.insert(0, str(mod))
    try:
        def evil(doc: dict[str, Any]) -> None:
            for key in ("task.name", "model.task", "model.family", "codecs.0.name"):
                put(key, "evil_lb_plugin")(doc)

        path = edit(evil)(tmp_path, base)
        before = snapshot(board)
        report = validate_file(path)  # the real, installed registry
        assert not report.ok and "unknown task 'evil_lb_plugin'" in report.problems[0].message
        assert not Board(board).submit([path]).ok
        assert snapshot(board) == before
    finally:
        sys.path.remove(str(mod))
    assert not marker.exists() and "evil_lb_plugin" not in sys.modules


def test_ids_from_the_command_line_are_never_paths(board: Path) -> None:
    before = snapshot(board)
    with pytest.raises(BoardError, match="64 lower-case hex"):
        Board(board).remove("../../index")
    with pytest.raises(BoardError, match="sha256 of the base weights"):
        Board(board).submit([], finetuned_from="../../etc/passwd")
    assert snapshot(board) == before


def test_a_batch_is_all_or_nothing(tmp_path: Path, base: Base, reg: Any, board: Path) -> None:
    good, _ = make_result(tmp_path / "g", "good", model="timm:newcomer", n=8)
    bad = edit(put("clean.metrics.top1", 2.0))(tmp_path, base)
    before = snapshot(board)
    out = Board(board).submit([good, bad], reg, resamples=10)
    assert not out.ok and out.reports[0].ok and not out.reports[1].ok
    assert snapshot(board) == before
    # the same result twice in one batch
    out = Board(board).submit([good, good], reg, resamples=10)
    assert not out.ok
    assert "submitted twice" in " ".join(p.message for r in out.reports for p in r.problems)
    assert snapshot(board) == before


def test_a_missing_board_is_not_created_by_a_rejected_submission(
    tmp_path: Path, base: Base, reg: Any
) -> None:
    p = edit(put("clean.metrics.top1", 2.0))(tmp_path, base)
    with pytest.raises(BoardError, match="no board at"):
        Board(tmp_path / "nothing").submit([p], reg)
    out = Board(tmp_path / "nothing").submit([p], reg, trust_dataset=True)
    assert not out.ok and not (tmp_path / "nothing").exists()


def test_tampered_board_files_are_detected(tmp_path: Path, reg: Any) -> None:
    root = tmp_path / "b"
    b = Board(root)
    p, _ = make_result(tmp_path, "r", n=8)
    assert b.submit([p], reg, trust_dataset=True, resamples=10).ok
    entry = next((root / "entries").iterdir())
    entry.write_bytes(entry.read_bytes().replace(b'"timm:toy_net"', b'"timm:forged"'))
    with pytest.raises(BoardError, match="does not match the index"):
        b.entries()
    (root / "index.json").write_text('{"format": "lossybench-board/1", "format": "x"}')
    with pytest.raises(BoardError, match="duplicate key"):
        b.index()


# -- the safe parser and the command line -------------------------------------------------
def test_depth_scan_ignores_brackets_in_strings() -> None:
    assert nesting_depth(b'{"a": "[[[[[[[[", "b": [1, {"c": "]]]"}]}') == 3
    assert loads(b'{"a": "[[[[[[[[[[[[[[["}', max_depth=2) == {"a": "[" * 15}


def test_clean_text_defuses_terminal_and_bidi_controls() -> None:
    s = clean_text("a\x1b[31mb\u202ec\nd" + "x" * 500, 50)
    assert "\x1b" not in s and "\u202e" not in s and "\n" not in s and len(s) == 50


def test_validate_command_lines_and_json(tmp_path: Path, base: Base, reg: Any,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lb_cli, "registry", lambda ctx=None: reg)
    (tmp_path / "g").mkdir()
    good = edit(lambda d: None)(tmp_path / "g", base)
    bad = edit(put("clean.metrics.top1", 1.5), refresh=True)(tmp_path, base)
    runner = CliRunner()
    ok = runner.invoke(lb_cli.app, ["validate", str(good)])
    assert ok.exit_code == 0, ok.output
    res = runner.invoke(lb_cli.app, ["validate", str(good), str(bad)])
    assert res.exit_code == 1
    assert f"{bad}: $.clean.metrics.top1: 1.5 is outside the metric range [0, 1]" in res.stdout
    res = runner.invoke(lb_cli.app, ["validate", "--json", str(bad)])
    assert res.exit_code == 1
    payload = json.loads(res.stdout)
    assert payload["valid"] is False
    first = payload["files"][0]["problems"][0]
    assert set(first) == {"file", "path", "message"} and first["file"] == str(bad)


def test_random_mutations_never_crash_the_validator(tmp_path: Path, base: Base, reg: Any) -> None:
    """Seeded fuzzing: any edit of an honest result is either accepted or explained."""
    import random

    rng = random.Random(1234)
    junk: list[Any] = [None, True, -1, 0, 1e300, -0.0, "", "x" * 300, [], {}, [1, "a"],
                       {"a": {"b": None}}, "<script>", "../..", 2**62, 0.5]
    paths: list[list[Any]] = []

    def collect(node: Any, at: list[Any]) -> None:
        paths.append(at)
        if isinstance(node, dict):
            for k, v in node.items():
                collect(v, [*at, k])
        elif isinstance(node, list):
            for i, v in enumerate(node[:3]):
                collect(v, [*at, i])

    collect(base.doc, [])
    accepted = 0
    for k in range(150):
        doc = copy.deepcopy(base.doc)
        at = rng.choice(paths[1:])
        parent: Any = doc
        for key in at[:-1]:
            parent = parent[key]
        if rng.random() < 0.2 and isinstance(parent, dict):
            del parent[at[-1]]
        else:
            parent[at[-1]] = copy.deepcopy(rng.choice(junk))
        p = tmp_path / f"m{k}.json"
        p.write_text(json.dumps(doc))
        report = validate_file(p, reg, records=False, require_records=False)  # must not raise
        if report.ok:
            accepted += 1
        else:
            assert all(x.message and x.path.startswith(("$", "line")) for x in report.problems)
    assert accepted < 40  # most random edits break something a check catches


def test_outcomes_a_task_cannot_aggregate_get_a_sentence_not_an_exception(
    tmp_path: Path, base: Base, reg: Any, board: Path
) -> None:
    """A malformed outcome makes the task raise (a KeyError here): the message says what is
    wrong in words and never shows the exception's name or repr."""
    def codec_only(r: list[dict[str, Any]]) -> None:
        for x in r[1:]:
            if x.get("outcome") and x.get("codec"):
                x["outcome"].pop("correct")

    def everywhere(r: list[dict[str, Any]]) -> None:
        for x in r[1:]:
            if x.get("outcome"):
                x["outcome"].pop("correct")

    for name, fn in (("codec", codec_only), ("all", everywhere)):
        (tmp_path / name).mkdir()
        path = recs(fn)(tmp_path / name, base)
        report = validate_file(path, reg)
        # clean outcomes the task cannot aggregate may need a dataset: a note, and a
        # board refuses the result as not recomputed
        out = Board(board).submit([path], reg, resamples=0)
        assert not out.ok
        lines = [p.line() for rep in (report, *out.reports) for p in rep.problems]
        lines += report.notes
        assert any("cannot aggregate" in x or "could not recompute" in x for x in lines)
        for line in lines:
            assert "KeyError" not in line and "Error:" not in line, line
            assert "NoneType" not in line, line
