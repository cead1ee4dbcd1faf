"""A chosen setting is a function of its own (image, codec, target, policy, tolerance).

Never of the other targets in the list, their order, a repeated target, the cache's
contents or the number of worker processes (docs/rate-control.md, "What an answer
depends on"). And one rule for target lists everywhere: sorted, each once, with a note.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from lossybench.engine.ratecontrol import (
    DEFAULT_RATE_TOLERANCE,
    RateSearch,
    normalize_targets,
    targets_note,
)
from lossybench.errors import OutOfRangeError
from lossybench.plugins.datasets.package_photos import PackagePhotos

DEFAULT_LIST = [0.1, 0.2, 0.3, 0.5, 1.0, 2.0]
#: every codec that ships with lossybench (CompressAI's zoo is skipped without weights)
BUILTIN = ("jpeg", "webp", "jpeg2000", "avif", "heic", "jpegxl", "cjpeg",
           "lossybench-hyperprior")
#: JPEG runs on the whole photos; the slower codecs on a 160 px centre crop of each
CROP = 160


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    return [s.image() for s in PackagePhotos().samples()]


def crop(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    y, x = (h - CROP) // 2, (w - CROP) // 2
    return np.ascontiguousarray(image[y : y + CROP, x : x + CROP])


def answers(codec, image, targets, **kw) -> dict[float, tuple]:  # type: ignore[no-untyped-def]
    return {
        p.target: (p.quality, p.bpp, p.bitstream, p.status)
        for p in RateSearch(codec, image, **kw).solve(targets)
    }


@pytest.mark.slow
@pytest.mark.parametrize("name", BUILTIN)
@pytest.mark.parametrize("tolerance", sorted({0.0, DEFAULT_RATE_TOLERANCE, 0.1}))
def test_same_choice_alone_and_in_any_list(registry, photos, name, tolerance):
    cls = registry.codec(name)
    try:
        cls.check_available()
    except Exception as exc:  # an optional backend missing here
        pytest.skip(f"{name}: {exc}")
    codec = cls()
    images = photos if name == "jpeg" else [crop(p) for p in photos]
    if tolerance and name not in ("jpeg", "webp", "jpegxl"):
        images = images[:3]  # the exact search covers all nine; tolerant, a few suffice
    for image in images:
        listed = answers(codec, image, DEFAULT_LIST, tolerance=tolerance)
        for t in DEFAULT_LIST:
            alone = answers(codec, image, [t], tolerance=tolerance)[t]
            assert alone == listed[t], f"{name} at {t} bpp: alone {alone[0]}, listed {listed[t][0]}"
        # another order, repeats and other targets around them change nothing either
        other = answers(
            codec, image, [2.0, 0.25, 0.5, 0.5, 0.15, 1.0, 0.3, 0.2, 0.1, 4.0],
            tolerance=tolerance,
        )
        assert {t: other[t] for t in DEFAULT_LIST} == listed


def test_each_target_follows_its_own_path(registry, astronaut):
    """The settings a target's search visits are the same alone and in a list: only the
    memo (an encode already made for another target) is shared, never a decision."""
    codec = registry.codec("jpeg")()

    class Recording(RateSearch):
        def _solve_one(self, target):  # type: ignore[no-untyped-def]
            point = super()._solve_one(target)
            self.paths[target] = [tr.quality for tr in self.trials.values()]
            return point

    def paths(targets):  # type: ignore[no-untyped-def]
        search = Recording(codec, astronaut)
        search.paths = {}  # type: ignore[attr-defined]
        search.solve(targets)
        return search.paths, search.encodes  # type: ignore[attr-defined]

    listed, shared = paths(DEFAULT_LIST)
    alone = 0
    for t in DEFAULT_LIST:
        one, n = paths([t])
        assert one[t] == listed[t]
        alone += n
    assert shared < alone  # the memo saves encodes (the rungs' first trials)


@pytest.mark.parametrize("name", ["jpeg", "jpegxl"])
def test_a_cache_filled_by_other_lists_and_tolerances_changes_nothing(
    tmp_path, registry, chelsea, name
):
    from lossybench.engine.cache import CodecCache

    codec = registry.codec(name)()
    image = chelsea if name == "jpeg" else crop(chelsea)
    cold = answers(codec, image, DEFAULT_LIST)
    cache = CodecCache(tmp_path)
    for tol, targets in ((0.1, [0.25, 0.4, 1.5]), (0.05, [2.0, 0.3]), (0.0, [0.7])):
        RateSearch(codec, image, tolerance=tol, cache=cache.entry(image, codec)).solve(targets)
    warm = answers(codec, image, DEFAULT_LIST, cache=cache.entry(image, codec))
    assert warm == cold
    for t in DEFAULT_LIST:
        assert answers(codec, image, [t], cache=cache.entry(image, codec))[t] == cold[t]


def test_worker_count_changes_nothing(registry):
    from lossybench.engine.sweep import run_sweep

    codec = registry.codec("jpeg")()
    samples = list(PackagePhotos().samples())[:3]

    def chosen(workers, bpp):  # type: ignore[no-untyped-def]
        res = run_sweep([codec], samples, bpp=bpp, with_ms_ssim=False, workers=workers)
        return {(r.image, r.point): (r.quality, r.bpp) for r in res.records}

    base = chosen(0, DEFAULT_LIST)
    assert chosen(2, DEFAULT_LIST) == base
    assert chosen(0, [1.0]) == {k: v for k, v in base.items() if k[1] == 1.0}


def test_the_default_is_the_exact_floor(registry, chelsea):
    """The issue's case: at 1 bpp the default answer is the largest quality not above it."""
    from lossybench.codec import bits_per_pixel

    codec = registry.codec("jpeg")()
    h, w = chelsea.shape[:2]
    table = {q: bits_per_pixel(codec.encode(chelsea, q), w, h) for q in codec.quality.levels}
    assert DEFAULT_RATE_TOLERANCE == 0.0
    for p in RateSearch(codec, chelsea, tolerance=DEFAULT_RATE_TOLERANCE).solve(DEFAULT_LIST):
        fitting = [q for q, b in table.items() if b <= p.target]
        if p.status == "ok":
            assert p.quality == max(fitting)


# -- one rule for target lists ------------------------------------------------------------
def test_targets_are_sorted_and_each_kept_once():
    assert normalize_targets([1, 0.3, 0.3, 2]) == [0.3, 1.0, 2.0]
    assert normalize_targets([0.1, 0.5]) == [0.1, 0.5]
    assert targets_note([0.1, 0.5]) is None
    note = targets_note([0.3, 0.3], "--bpp")
    assert note == "note: --bpp 0.3,0.3 run as 0.3 (targets are sorted, each run once)"
    assert "1,0.3 run as 0.3,1" in (targets_note([1, 0.3]) or "")
    with pytest.raises(OutOfRangeError, match="outside"):
        normalize_targets([0.3, 0.0])


def test_configs_and_the_sweep_apply_the_rule():
    from lossybench.engine.finetune.config import make_config as finetune_config
    from lossybench.engine.run.config import make_config, to_toml
    from lossybench.engine.sweep import run_sweep

    run = make_config({"task": "classification", "model": "timm:resnet50",
                       "dataset": "package-photos", "bpp": [1, 0.3, 0.3]})
    assert run.bpp == [0.3, 1.0] and run.points() == ("bpp", [0.3, 1.0])
    assert len(run.notes) == 1 and "1,0.3,0.3 run as 0.3,1" in run.notes[0]
    again = make_config(run.model_dump())
    assert again.notes == [] and again.digest() == run.digest()
    assert 'bpp = [0.3, 1.0]' in to_toml(run)
    ft = finetune_config({"task": "classification", "model": "timm:resnet50",
                          "train_dataset": "package-photos", "val_dataset": "package-photos",
                          "codecs": ["jpeg"], "bpp": [0.3, 0.1, 0.3], "eval_bpp": [1, 0.5],
                          "steps": 1})
    assert ft.bpp == [0.1, 0.3] and ft.eval_bpp == [0.5, 1.0] and len(ft.notes) == 2
    assert ft.evaluation_run().bpp == [0.5, 1.0]
    with pytest.raises(Exception, match="empty"):
        finetune_config({**ft.model_dump(), "eval_bpp": []})
    res = run_sweep([], [], bpp=[1.0, 0.3, 0.3])
    assert res.points == [0.3, 1.0]


def test_the_cli_says_when_it_changed_the_list(tmp_path):
    from typer.testing import CliRunner

    from lossybench.cli.app import app

    runner = CliRunner()
    toml = tmp_path / "run.toml"
    res = runner.invoke(app, ["run", "--task", "classification", "--bpp", "1,0.3,0.3",
                              "--save-config", str(toml)])
    assert res.exit_code == 0, res.output
    assert "note: --bpp 1,0.3,0.3 run as 0.3,1" in " ".join(res.output.split())
    assert "bpp = [0.3, 1.0]" in toml.read_text()
    # a configuration file's targets: the same rule, the same note
    messy = tmp_path / "messy.toml"
    messy.write_text(toml.read_text().replace("bpp = [0.3, 1.0]", "bpp = [2, 0.5, 2]"))
    res = runner.invoke(app, ["run", "--config", str(messy), "--save-config", str(toml)])
    assert res.exit_code == 0, res.output
    assert "2,0.5,2 run as 0.5,2" in " ".join(res.output.split())
    res = runner.invoke(app, ["codecs", "sweep", "-c", "jpeg", "--bpp", "0.5,0.5", "--limit",
                              "1", "--no-ms-ssim", "--json", "--no-cache"])
    assert res.exit_code == 0, res.output
    assert "0.5,0.5 run as 0.5 " in " ".join(res.output.split())
    data = json.loads(res.stdout[res.stdout.index("{"):])
    assert data["points"] == [0.5] and data["images"] == 1


def test_records_of_an_older_rate_control_are_not_resumed(tmp_path) -> None:
    """A killed run from before the per-target search must not be resumed by it: the
    records would mix settings chosen by two different searches."""
    import json

    from lossybench.engine.ratecontrol import RATE_CONTROL
    from lossybench.engine.run.records import RecordLog
    from lossybench.errors import LossybenchError

    digest = "ab" * 32
    old = tmp_path / "old.jsonl"
    old.write_text(json.dumps({"lossybench_records": 1, "config_sha256": digest}) + "\n")
    with pytest.raises(LossybenchError, match="older rate control"):
        RecordLog(old, digest)
    new = RecordLog(tmp_path / "new.jsonl", digest)
    assert json.loads(new.path.read_text().splitlines()[0])["rate_control"] == RATE_CONTROL
    RecordLog(new.path, digest)  # resumes
