"""The board: storage, duplicates, atomic writes, ranking, ties, BD-metric, recovery."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import pytest
from leaderboard_fixtures.factory import (
    DATASET_SHA,
    make_result,
    snapshot,
    toy_registry,
    weights_sha,
)
from typer.testing import CliRunner

from lossybench.engine.aggregate import relative_drop
from lossybench.leaderboard import cli as lb_cli
from lossybench.leaderboard.board import (
    Board,
    BoardEntry,
    BoardError,
    CurvePoint,
    Provenance,
    Source,
    entry_id,
)
from lossybench.leaderboard.ranking import (
    bd_metric,
    board_views,
    curve,
    metric_at,
    ranks_with_ties,
)

HEX = re.compile(r"^[0-9a-f]+$")


@pytest.fixture(scope="module")
def reg() -> Any:
    return toy_registry()


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("results")
    return {
        "a": make_result(out, "a", n=12)[0],
        "a2": make_result(out, "a2", n=12, seed=3)[0],  # same identity, other numbers
        "b": make_result(out, "b", model="timm:other_net", n=12, p_clean=0.7, seed=1,
                         codecs={"jpeg": 0.5, "webp": 0.4, "avif": 0.2})[0],
    }


def new_board(tmp: Path) -> Board:
    b = Board(tmp / "board")
    b.init()
    b.add_dataset("imagenet-samples", DATASET_SHA, None)
    return b


def test_submit_stores_plain_json_files_and_an_index(tmp_path: Path, reg: Any,
                                                     results: dict[str, Path]) -> None:
    b = new_board(tmp_path)
    out = b.submit([results["a"]], reg, resamples=50)
    assert out.ok and len(out.accepted) == 2
    index = json.loads((b.root / "index.json").read_text())
    assert index["format"] == "lossybench-board/1"
    assert [d["sha256"] for d in index["datasets"]] == [DATASET_SHA]
    raw = results["a"].read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    records_sha = hashlib.sha256(results["a"].with_suffix(".jsonl").read_bytes()).hexdigest()
    assert (b.root / "results" / f"{digest}.json").read_bytes() == raw
    doc = json.loads(raw)
    for line in index["entries"]:
        name = Path(line["file"]).name
        assert all(HEX.match(part) for part in name.split(".")[:2])
        entry = json.loads((b.root / line["file"]).read_text())
        assert entry["id"] == entry_id("classification", DATASET_SHA, "timm:toy_net",
                                       doc["model"]["weights"]["sha256"], entry["codec_label"])
        assert entry["source"] == {"result": f"results/{digest}.json", "result_sha256": digest,
                                   "records_sha256": records_sha}
        boot = entry["bootstrap"]
        stated = next(c for c in doc["codecs"] if c["label"] == entry["codec_label"])
        rob = stated["summary"]["robustness"]
        assert boot["resamples"] == 50 and boot["low"] <= rob <= boot["high"]
    # the board recomputes exactly what the run stated
    (view,) = board_views(b.entries())
    for row in view.rows:
        stated = next(c for c in doc["codecs"] if c["label"] == row.codec_label)
        assert math.isclose(row.robustness, stated["summary"]["robustness"], rel_tol=1e-12)
        assert math.isclose(row.area, stated["summary"]["area"], rel_tol=1e-12)


def test_duplicates_are_refused_unless_replaced(tmp_path: Path, reg: Any,
                                                results: dict[str, Path]) -> None:
    b = new_board(tmp_path)
    assert b.submit([results["a"]], reg, resamples=10).ok
    before = snapshot(b.root)
    out = b.submit([results["a2"]], reg, resamples=10)
    assert not out.ok and "pass --replace" in out.reports[0].problems[0].message
    assert snapshot(b.root) == before
    out = b.submit([results["a2"]], reg, resamples=10, replace=True)
    assert out.ok and len(out.replaced) == 2
    after = snapshot(b.root)
    assert len([k for k in after if k.startswith("entries/") and k.endswith(".json")]) == 2
    # the replaced files and the old result are gone, the new result is kept
    assert len([k for k in after if k.startswith("results/") and k.endswith(".json")]) == 1
    assert not set(before) - {"index.json"} <= set(after)
    assert len(b.entries()) == 2


def test_a_failed_write_leaves_the_board_unchanged(tmp_path: Path, reg: Any,
                                                   results: dict[str, Path],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    b = new_board(tmp_path)
    assert b.submit([results["a"]], reg, resamples=10).ok
    before = snapshot(b.root)
    real = os.replace

    def always(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", always)
    with pytest.raises(BoardError, match="it is unchanged"):
        b.submit([results["b"]], reg, resamples=10)
    assert snapshot(b.root) == before

    def at_commit(src: Any, dst: Any) -> None:  # every entry file is in place, then: crash
        if str(dst).endswith("index.json"):
            raise OSError(5, "Input/output error")
        real(src, dst)

    monkeypatch.setattr(os, "replace", at_commit)
    with pytest.raises(BoardError, match="it is unchanged"):
        b.submit([results["b"]], reg, resamples=10)
    assert snapshot(b.root) == before

    def interrupted(src: Any, dst: Any) -> None:
        if str(dst).endswith("index.json"):
            raise KeyboardInterrupt
        real(src, dst)

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        b.submit([results["b"]], reg, resamples=10)
    assert snapshot(b.root) == before
    monkeypatch.setattr(os, "replace", real)
    assert b.submit([results["b"]], reg, resamples=10).ok


def test_leftovers_of_a_killed_write_are_ignored_then_collected(
    tmp_path: Path, reg: Any, results: dict[str, Path]
) -> None:
    b = new_board(tmp_path)
    assert b.submit([results["a"]], reg, resamples=10).ok
    orphan = b.root / "entries" / f"{'0' * 64}.{'1' * 16}.json"
    orphan.write_text("{half a file")
    tmp = b.root / "entries" / ".x.json.abcd1234.tmp"
    tmp.write_text("")
    index_tmp = b.root / ".index.json.abcd1234.tmp"
    index_tmp.write_text("{")
    theirs = b.root / "results" / "classification-run.json"  # not a board file
    theirs.write_text("{}")
    assert len(board_views(b.entries())[0].rows) == 2  # the index decides what exists
    b.add_dataset("other", "e" * 64)  # any write collects them
    assert not orphan.exists() and not tmp.exists() and not index_tmp.exists()
    assert theirs.exists()


def test_a_trusted_submission_seeds_the_dataset_registry(tmp_path: Path, reg: Any,
                                                         results: dict[str, Path]) -> None:
    b = Board(tmp_path / "fresh")
    out = b.submit([results["a"]], reg, trust_dataset=True, resamples=10)
    assert out.ok
    assert [(d.name, d.sha256, d.images) for d in b.index().datasets] == [
        ("imagenet-samples", DATASET_SHA, 12)]
    b2 = Board(tmp_path / "strict")
    b2.init()
    b2.add_dataset("imagenet-samples", DATASET_SHA, 50)
    out = b2.submit([results["a"]], reg, resamples=10)
    assert not out.ok and "registered 50" in out.reports[0].problems[0].message


def test_ranking_columns(tmp_path: Path, reg: Any, results: dict[str, Path]) -> None:
    b = new_board(tmp_path)
    assert b.submit([results["a"], results["b"]], reg, resamples=50).ok
    (view,) = board_views(b.entries())
    assert view.task == "classification" and view.headline == "top1" and len(view.rows) == 5
    ranks = [r.rank for r in view.rows]
    assert all(isinstance(x, int) for x in ranks) and ranks == sorted(ranks) and ranks[0] == 1
    by = {(r.model, r.codec_label): r for r in view.rows}
    jpeg, webp = by[("timm:toy_net", "jpeg")], by[("timm:toy_net", "webp")]
    assert jpeg.bd == 0.0 and jpeg.bd_reason == "reference"
    entries = {(e.model, e.codec_label): e for e in b.entries()}
    want, _ = bd_metric(curve(entries[("timm:toy_net", "webp")]),
                        curve(entries[("timm:toy_net", "jpeg")]))
    assert webp.bd == pytest.approx(want) and webp.bd is not None
    v01, _ = metric_at(*curve(entries[("timm:toy_net", "webp")]), 0.1)
    assert webp.at["0.1"] == pytest.approx(v01)
    assert webp.drop == pytest.approx(relative_drop(webp.clean, v01))
    assert by[("timm:other_net", "avif")].bd_reason == ""  # other model has its own JPEG


def test_unranked_entries_are_listed_with_the_reason(tmp_path: Path, reg: Any) -> None:
    b = new_board(tmp_path)
    short, _ = make_result(tmp_path, "short", model="timm:short", n=8, points=(0.2, 0.5, 1, 2.5))
    few, _ = make_result(tmp_path, "few", model="timm:few", n=8, points=(0.1, 1.0, 2.5))
    full, _ = make_result(tmp_path, "full", model="timm:full", n=8)
    assert b.submit([short, few, full], reg, resamples=10).ok
    (view,) = board_views(b.entries())
    ranked = [r for r in view.rows if r.rank is not None]
    unranked = [r for r in view.rows if r.rank is None]
    assert {r.model for r in ranked} == {"timm:full"}
    assert view.rows[: len(ranked)] == ranked  # unranked entries come last
    reasons = {r.model: r.unranked_reason for r in unranked}
    assert "not the whole 0.1–2 bpp range" in reasons["timm:short"]
    assert "needs at least 4 points" in reasons["timm:few"]
    short_row = next(r for r in unranked if r.model == "timm:short")
    assert short_row.at["0.1"] is None and "outside" in short_row.at_reason["0.1"]


def test_ranks_with_ties() -> None:
    # A and B overlap, C is clearly below B, D is a point interval
    r = ranks_with_ties([("A", 0.9, 0.85, 0.95), ("B", 0.84, 0.80, 0.86),
                         ("C", 0.7, 0.65, 0.79), ("D", 0.5, 0.5, 0.5)])
    assert r == {"A": 1, "B": 1, "C": 3, "D": 4}
    # A–B and B–C overlap, A is significantly better than C only: no chain into one rank
    r = ranks_with_ties([("A", 0.86, 0.8, 0.9), ("B", 0.8, 0.75, 0.85), ("C", 0.74, 0.7, 0.78)])
    assert r == {"A": 1, "B": 1, "C": 2}
    # no intervals: equal scores tie, others do not
    r = ranks_with_ties([("A", 0.5, 0.5, 0.5), ("B", 0.5, 0.5, 0.5), ("C", 0.4, 0.4, 0.4)])
    assert r == {"A": 1, "B": 1, "C": 3}


def test_bootstrap_ties_on_a_board(tmp_path: Path, reg: Any) -> None:
    b = new_board(tmp_path)
    kw: dict[str, Any] = {"n": 150, "seed": 7}
    x, _ = make_result(tmp_path, "x", model="timm:x", codecs={"jpeg": 0.1}, **kw)
    y, _ = make_result(tmp_path, "y", model="timm:y", codecs={"jpeg": 0.12}, **kw)
    z, _ = make_result(tmp_path, "z", model="timm:z", codecs={"jpeg": 0.95}, **kw)
    assert b.submit([x, y, z], reg, resamples=200, seed=1).ok
    (view,) = board_views(b.entries())
    rank = {r.model: r.rank for r in view.rows}
    assert rank == {"timm:x": 1, "timm:y": 1, "timm:z": 3}
    rows = {r.model: r for r in view.rows}
    assert rows["timm:x"].robustness != rows["timm:y"].robustness
    assert rows["timm:z"].ci_high < rows["timm:y"].ci_low
    # the same seed gives the same interval
    b2 = new_board(tmp_path / "again")
    assert b2.submit([x], reg, resamples=200, seed=1).ok
    (again,) = board_views(b2.entries())
    assert (again.rows[0].ci_low, again.rows[0].ci_high) == (rows["timm:x"].ci_low,
                                                             rows["timm:x"].ci_high)


def test_bd_metric_on_curves_with_a_known_answer() -> None:
    b = [0.1, 0.2, 0.4, 0.8, 1.6]
    ref = (b, [0.5 + 0.1 * math.log2(v) for v in b])
    test = (b, [0.55 + 0.1 * math.log2(v) for v in b])
    assert bd_metric(test, ref)[0] == pytest.approx(0.05, abs=1e-12)
    assert bd_metric(ref, test)[0] == pytest.approx(-0.05, abs=1e-12)
    # different slopes and a partial overlap: the mean of the difference over the overlap
    b2 = [0.2, 0.4, 0.8, 1.6, 3.2]
    test2 = (b2, [0.6 + 0.05 * math.log2(v) for v in b2])
    lo, hi = math.log2(0.2), math.log2(1.6)
    assert bd_metric(test2, ref)[0] == pytest.approx(0.1 - 0.05 * (lo + hi) / 2, abs=1e-12)
    low = ([0.1, 0.15, 0.2, 0.4], [0.3, 0.4, 0.5, 0.6])
    high = ([0.5, 0.8, 1.2, 2.0], [0.7, 0.75, 0.8, 0.82])
    value, why = bd_metric(high, low)
    assert value is None and "do not overlap" in why
    value, why = bd_metric(([0.1, 0.5, 2.0], [0.5, 0.6, 0.7]), ref)
    assert value is None and "needs 4" in why


def test_metric_at_interpolates_and_never_extrapolates() -> None:
    b, m = [0.1, 0.25, 0.5, 1.0, 2.0], [0.3, 0.5, 0.6, 0.7, 0.75]
    assert metric_at(b, m, 0.5)[0] == pytest.approx(0.6)
    v, _ = metric_at(b, m, 0.35)
    assert v is not None and 0.5 < v < 0.6
    v, why = metric_at(b, m, 0.05)
    assert v is None and "outside the measured 0.1–2 bpp" in why
    # within the area's 10 % end margin the curve is held flat, as the run's area holds it
    assert metric_at([0.105, *b[1:]], m, 0.1)[0] == 0.3
    assert metric_at(b, m, 2.15)[0] == 0.75 and metric_at(b, m, 2.3)[0] is None


def hand_entry(model: str, weights: str, codec: str, curve_pts: list[tuple[float, float]],
               clean: float, finetuned_from: str | None = None,
               ci: tuple[float, float] | None = None) -> BoardEntry:
    """A board entry made by hand (as a future `bench finetune` result would give)."""
    from lossybench.leaderboard.board import Bootstrap

    eid = entry_id("classification", DATASET_SHA, model, weights, codec)
    digest = "d" * 64
    return BoardEntry(
        id=eid, task="classification", headline="top1", dataset="imagenet-samples",
        dataset_sha256=DATASET_SHA, images=20, model=model, weights_sha256=weights,
        codec=codec.split(":")[0], codec_label=codec, clean={"top1": clean},
        points=[CurvePoint(target=b, bpp_mean=b, bpp_std=0.0, psnr_mean=30.0,
                           metrics={"top1": m}, images=20, failures=0, flagged=0)
                for b, m in curve_pts],
        bootstrap=(Bootstrap(resamples=100, seed=0, level=0.95, low=ci[0], high=ci[1],
                             defined=100) if ci else None),
        finetuned_from=finetuned_from,
        provenance=Provenance(lossybench="0.1.0", created="2025-01-01T00:00:00Z"),
        source=Source(result=f"results/{digest}.json", result_sha256=digest),
        submitted="2025-01-02T00:00:00Z",
    )


RATES = [0.1, 0.2, 0.5, 1.0, 2.0]


def test_recovered_fraction_of_a_finetuned_entry() -> None:
    w0, w1 = "a" * 64, "b" * 64
    base = hand_entry("timm:net", w0, "jpeg", list(zip(RATES, [0.4, 0.6, 0.7, 0.75, 0.78],
                                                       strict=True)), clean=0.8)
    ft = hand_entry("timm:net", w1, "jpeg", list(zip(RATES, [0.7, 0.72, 0.76, 0.78, 0.79],
                                                     strict=True)), clean=0.79,
                    finetuned_from=base.id)
    orphan = hand_entry("timm:net", "c" * 64, "jpeg", [(0.1, 0.5), (2.0, 0.7)], clean=0.8,
                        finetuned_from="e" * 64)
    (view,) = board_views([base, ft, orphan])
    rows = {r.weights_sha256: r for r in view.rows}
    assert rows[w1].recovered == pytest.approx((0.7 - 0.4) / (0.8 - 0.4))
    assert rows[w0].recovered is None and rows[w0].finetuned_from is None
    assert rows["c" * 64].recovered is None
    assert "not on this board" in rows["c" * 64].recovered_reason
    # finetuned entries stay out of the codec view
    assert [c.models for c in view.codecs if c.codec == "jpeg"] == [1]


def test_a_finetuned_submission_links_to_its_base(tmp_path: Path, reg: Any) -> None:
    b = new_board(tmp_path)
    base, _ = make_result(tmp_path, "base", n=10, codecs={"jpeg": 0.8})
    ft, _ = make_result(tmp_path, "ft", n=10, codecs={"jpeg": 0.8}, recovery=0.9,
                        weights=weights_sha("timm:toy_net", "-ft"))
    assert b.submit([base], reg, resamples=10).ok
    assert b.submit([ft], reg, resamples=10, finetuned_from=weights_sha("timm:toy_net")).ok
    (view,) = board_views(b.entries())
    row = next(r for r in view.rows if r.finetuned_from)
    base_id = entry_id("classification", DATASET_SHA, "timm:toy_net",
                       weights_sha("timm:toy_net"), "jpeg")
    assert row.finetuned_from == base_id
    assert row.recovered is not None and row.recovered > 0.5


def test_codec_view_averages_over_models() -> None:
    e = [hand_entry("m:a", "a" * 64, "jpeg", list(zip(RATES, [0.4, 0.5, 0.6, 0.7, 0.8],
                                                      strict=True)), 0.8),
         hand_entry("m:a", "a" * 64, "webp", list(zip(RATES, [0.6, 0.7, 0.75, 0.8, 0.8],
                                                      strict=True)), 0.8),
         hand_entry("m:b", "b" * 64, "jpeg", list(zip(RATES, [0.3, 0.4, 0.5, 0.6, 0.6],
                                                      strict=True)), 0.6),
         hand_entry("m:b", "b" * 64, "webp", list(zip(RATES, [0.5, 0.55, 0.6, 0.6, 0.6],
                                                      strict=True)), 0.6),
         hand_entry("m:b", "b" * 64, "heic", [(0.3, 0.5), (1.0, 0.6)], 0.6)]
    (view,) = board_views(e)
    rob = {(r.model, r.codec_label): r.robustness for r in view.rows}
    codecs = {c.codec: c for c in view.codecs}
    assert codecs["webp"].rank == 1 and codecs["jpeg"].rank == 2
    assert codecs["webp"].mean == pytest.approx((rob[("m:a", "webp")] + rob[("m:b", "webp")]) / 2)
    assert codecs["webp"].models == 2
    assert codecs["heic"].rank is None and "covers the rate range" in codecs["heic"].reason


def test_command_line_round_trip(tmp_path: Path, reg: Any, results: dict[str, Path],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lb_cli, "registry", lambda ctx=None: reg)
    run = CliRunner().invoke
    board = str(tmp_path / "board")
    assert run(lb_cli.app, ["init", "--board", board]).exit_code == 0
    res = run(lb_cli.app, ["submit", str(results["a"]), "--board", board])
    assert res.exit_code == 1 and "not registered on this board" in res.stdout
    assert "datasets add --board" in res.stdout
    res = run(lb_cli.app, ["datasets", "add", "--board", board, "imagenet-samples", DATASET_SHA])
    assert res.exit_code == 0
    assert DATASET_SHA in run(lb_cli.app, ["datasets", "list", "--board", board]).stdout
    res = run(lb_cli.app, ["submit", str(results["a"]), "--board", board, "--bootstrap", "20",
                           "--json"])
    assert res.exit_code == 0, res.output
    accepted = json.loads(res.stdout)["accepted"]
    assert len(accepted) == 2
    res = run(lb_cli.app, ["submit", str(results["a2"]), "--board", board])
    assert res.exit_code == 1 and "--replace" in res.stdout
    res = run(lb_cli.app, ["submit", str(results["a2"]), "--board", board, "--replace",
                           "--bootstrap", "0"])
    assert res.exit_code == 0, res.output
    shown = json.loads(run(lb_cli.app, ["show", "--board", board, "--json"]).stdout)
    (bv,) = shown["boards"]
    assert {r["codec_label"] for r in bv["rows"]} == {"jpeg", "webp"}
    assert all(r["ci_low"] is None for r in bv["rows"])  # --bootstrap 0
    table = run(lb_cli.app, ["show", "--board", board]).stdout
    assert "timm:toy_net" in table and "robustness" in table
    res = run(lb_cli.app, ["remove", "--board", board, accepted[0]["id"]])
    assert res.exit_code == 0
    res = run(lb_cli.app, ["remove", "--board", board, "../index.json"])
    assert res.exit_code == 2 and "64 lower-case hex" in res.stderr
    assert len(json.loads(run(lb_cli.app, ["show", "--board", board, "--json"]).stdout)
               ["boards"][0]["rows"]) == 1
    res = run(lb_cli.app, ["show", "--board", str(tmp_path / "none")])
    assert res.exit_code == 2 and "no board at" in res.stderr


def test_the_plugin_provides_bench_leaderboard() -> None:
    from lossybench.leaderboard import plugin
    from lossybench.registry import load_registry

    reg = load_registry(use_entry_points=False, extra_plugins=[("leaderboard", plugin)])
    assert reg.commands["leaderboard"][0] is lb_cli.app and not reg.errors


REAL = Path(__file__).parent / "leaderboard_fixtures" / "real"


def test_a_real_bench_run_result_is_accepted(tmp_path: Path) -> None:
    """A result and JSONL written by the real pipeline, checked with the installed tasks.

    Made by ``bench run --limit 3 -c jpeg -c webp --out OUT`` (EfficientNet-Lite0 on the
    built-in ImageNet photos); regenerate it when the result format changes.
    """
    from lossybench.leaderboard.render import render_html
    from lossybench.leaderboard.validate import validate_file
    from lossybench.registry import get_registry

    reg = get_registry()
    if "classification" not in reg.names("tasks"):
        pytest.skip("the classification task plugin is not installed")
    result = REAL / "limit3-jpeg-webp.json"
    report = validate_file(result, reg)
    assert report.ok, [p.line() for p in report.problems]
    assert report.records is not None and not report.notes
    board = Board(tmp_path / "board")
    out = board.submit([result], reg, trust_dataset=True, resamples=100)
    assert out.ok and {e.codec_label for e in out.accepted} == {"jpeg", "webp"}
    (view,) = board_views(board.entries())
    doc = json.loads(result.read_text())
    for row in view.rows:
        stated = next(c for c in doc["codecs"] if c["label"] == row.codec_label)
        assert (row.robustness is None) == (stated["summary"]["robustness"] is None)
        if row.robustness is None:
            assert row.unranked_reason  # listed, with the reason
    assert "tf_efficientnet_lite0" in render_html([view])


def test_results_without_records_need_a_board_that_opts_out(tmp_path: Path, reg: Any) -> None:
    bare, _ = make_result(tmp_path / "bare", "bare", n=8, with_records=False)
    b = new_board(tmp_path)
    before = snapshot(b.root)
    out = b.submit([bare], reg, resamples=10)
    assert not out.ok and out.reports[0].problems[0].path == "$.records"
    assert "refused without their records" in out.reports[0].problems[0].message
    with pytest.raises(BoardError, match=r"init --board .* --allow-unverified"):
        b.submit([bare], reg, allow_unverified=True)
    assert snapshot(b.root) == before
    assert b.init(allow_unverified=True).allow_unverified
    assert b.init().allow_unverified  # None keeps the setting
    out = b.submit([bare], reg, allow_unverified=True, resamples=10)
    assert out.ok and all(not e.verified and e.bootstrap is None for e in out.accepted)
    assert any("unverified" in n for n in out.reports[0].notes)
    # a verified result on the same board stays verified
    full, _ = make_result(tmp_path / "full", "full", model="timm:full", n=8)
    out = b.submit([full], reg, allow_unverified=True, resamples=10)
    assert out.ok and all(e.verified for e in out.accepted)
    assert not b.init(allow_unverified=False).allow_unverified
    assert len(b.entries()) == 4


def test_a_dataset_registered_by_hash_is_stored_as_before(tmp_path: Path) -> None:
    """Registration by name and sha256 writes no ground truth and no new index field."""
    b = new_board(tmp_path)
    (ds,) = json.loads((b.root / "index.json").read_text())["datasets"]
    assert set(ds) == {"name", "sha256", "images", "added"}
    assert not (b.root / "groundtruth").exists()
    assert b.ground_truth(b.index().datasets[0]) is None
