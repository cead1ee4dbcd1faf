"""Speed, memory and scale figures of `bench run` (issue: cache, resume, pipeline, torchrun).

Prints ratios, never asserts: run it on an idle machine and quote what it prints.

    .venv/bin/python benchmarks/pipeline.py                 # everything (~15 min on 2 cores)
    .venv/bin/python benchmarks/pipeline.py --only sweep    # one section
    .venv/bin/python benchmarks/pipeline.py --codecs jpeg,webp,avif --images 20

Sections:
  run      default classification suite: throughput, encodes per (image, target), overhead
           of the whole run against the unavoidable work (final encode + decode +
           preprocess + forward, each timed in isolation), and the ratio against a
           straightforward sequential loop (bisection encodes, decode, preprocess, forward
           one image at a time);
  generated  the same figures on a larger generated set (224 px crops of package photos);
  cache    cached re-run with another model against the first (cold) run;
  sweep    `bench codecs sweep` against `python -m compressai.utils.bench` on the same
           photos and JPEG/WebP qualities (time, bpp and PSNR agreement);
  memory   peak RSS of `bench run` (process tree) at 100 and 1,000 generated images.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# as the `bench` CLI does before torch loads (lossybench.cli.main)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

BIN = Path(sys.executable).parent
TARGETS = [0.1, 0.2, 0.3, 0.5, 1.0, 2.0]
#: --workers (None: bench run's default, one codec process per core)
WORKERS: int | None = None


def machine() -> str:
    from lossybench.kits.cores import available_cores

    cores = available_cores()
    cpu = platform.processor() or platform.machine()
    return f"{cpu}, {cores} cores, Python {platform.python_version()}"


def section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 70 - len(title)), flush=True)


def make_config(codecs: list[str], images: int, out: Path, cache: Path | None, **extra):
    from lossybench.engine.run.config import make_config as mk
    from lossybench.engine.run.presets import PRESETS

    data = {
        **PRESETS["classification"],
        "codecs": codecs,
        "limit": images,
        "out": str(out),
        "cache": str(cache) if cache else None,
        "workers": WORKERS,
        **extra,
    }
    return mk(data)


def timed_run(cfg):
    from lossybench.engine.run.execute import execute
    from lossybench.engine.run.resolve import resolve
    from lossybench.engine.workers import StreamStats, cpu_now
    from lossybench.registry import load_registry

    res, stats = resolve(cfg, load_registry()), StreamStats()
    t0, cpu0 = time.perf_counter(), cpu_now()
    result, path = execute(res, stats=stats)
    stats.tree_cpu_s = cpu_now() - cpu0  # this process and its reaped workers: all CPU used
    return time.perf_counter() - t0, res, result, path, stats


def report_waits(wall: float, st) -> None:
    """Which stage waited for which (engine.workers.StreamStats), cores the run got (fewer:
    a busy machine), wall vs codec CPU s over every core (a codec-bound run's floor)."""
    from lossybench.kits.cores import available_cores

    span, floor = st.wall_s or 1.0, st.codec_cpu_s / available_cores()
    print(f"  process tree CPU {st.tree_cpu_s:.1f} s: {st.tree_cpu_s / wall:.2f} cores busy")
    print(f"  model stage waited for codecs {st.model_wait_s:.1f} s "
          f"({100 * st.model_wait_s / span:.0f} % of the stream's {st.wall_s:.1f} s); codec "
          f"stage waited for the model {st.codec_wait_s:.1f} pool-s "
          f"({100 * st.codec_wait_s / span:.0f} %)")
    print(f"  codec CPU {st.codec_cpu_s:.1f} s / {available_cores()} cores = {floor:.1f} s; "
          f"wall / that {wall / floor if floor else math.nan:.2f}  (target <= 1.2 codec-bound)")


def unavoidable_seconds(res, jsonl: Path) -> dict[str, float]:
    """Final encode + decode + preprocess + forward, each timed alone, summed over the run."""
    import torch

    codecs = {c.label: c for c in res.codecs}
    samples = {s.id: s for s in res.dataset.samples()}
    records = [json.loads(x) for x in jsonl.read_text().splitlines()[1:]]
    by_image: dict[str, list[dict]] = {}
    for r in records:
        by_image.setdefault(r["image"], []).append(r)
    t = {"encode": 0.0, "decode": 0.0, "preprocess": 0.0, "forward": 0.0}
    for image_id, recs in by_image.items():
        image = samples[image_id].image()
        inputs = [image]
        for r in recs:
            if r["codec"] is None or r.get("quality") is None:
                continue
            codec = codecs[r["codec"]]
            t0 = time.perf_counter()
            bits = codec.encode(image, r["quality"])
            t1 = time.perf_counter()
            decoded = codec.decode(bits)
            t2 = time.perf_counter()
            t["encode"] += t1 - t0
            t["decode"] += t2 - t1
            inputs.append(decoded)
        t0 = time.perf_counter()
        pre = [res.model.preprocess(x) for x in inputs]
        t1 = time.perf_counter()
        with torch.inference_mode():
            for i in range(0, len(pre), res.config.batch_size):
                res.model.forward(
                    pre[i : i + res.config.batch_size],
                    [x.shape[:2] for x in inputs[i : i + res.config.batch_size]],
                )
        t2 = time.perf_counter()
        t["preprocess"] += t1 - t0
        t["forward"] += t2 - t1
    return t


def sequential_loop(res, targets: list[float]) -> tuple[float, int]:
    """The straightforward loop: per image and target, bisection, decode, preprocess, forward."""
    from lossybench.codec import bits_per_pixel

    encodes = 0
    t0 = time.perf_counter()
    for s in res.dataset.samples():
        image = s.image()
        h, w = image.shape[:2]
        res.model.predict([image])
        for codec in res.codecs:
            q = codec.quality
            for target in targets:
                if q.kind == "discrete":
                    lo, hi = 0, len(q.levels) - 1
                    levels = q.levels if q.higher_is_better else q.levels[::-1]
                    best = levels[0]
                    while lo <= hi:
                        mid = (lo + hi) // 2
                        bits = codec.encode(image, levels[mid])
                        encodes += 1
                        if bits_per_pixel(bits, w, h) <= target:
                            best, lo = levels[mid], mid + 1
                        else:
                            hi = mid - 1
                else:
                    a, b = (q.minimum, q.maximum)
                    best = a if q.higher_is_better else b
                    for _ in range(10):
                        mid = math.sqrt(a * b) if q.log_scale else (a + b) / 2
                        bits = codec.encode(image, mid)
                        encodes += 1
                        under = bits_per_pixel(bits, w, h) <= target
                        if under == q.higher_is_better:
                            best, a = mid, mid
                        else:
                            b = mid
                        if not q.higher_is_better and under:
                            best = mid
                bits = codec.encode(image, best)
                encodes += 1
                res.model.predict([codec.decode(bits)])
    return time.perf_counter() - t0, encodes


def measure_run(args, cfg, codecs: list[str]) -> float:
    """Every figure of one run: throughput, encodes, overhead, sequential ratio."""
    wall, res, result, path, stats = timed_run(cfg)
    n_img = result.dataset.images
    ops = n_img * len(codecs) * len(TARGETS)
    print(
        f"wall {wall:.1f} s; throughput {ops / wall:.2f} (image × operating point)/s "
        f"({ops} operating points, workers={result.settings.workers}, "
        f"device={result.environment.device})"
    )
    report_waits(wall, stats)
    for label, n in res.encodes.items():
        print(f"  encodes per (image, target) {label:10s} {n / (n_img * len(TARGETS)):.2f}")
    total = sum(res.encodes.values()) / ops
    print(f"  encodes per (image, target) all        {total:.2f}  (exact floor: ~2.5)")
    t = unavoidable_seconds(res, path.with_suffix(".jsonl"))
    need = sum(t.values())
    print(
        "unavoidable work: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in t.items())
        + f"; total {need:.1f} s"
    )
    print(f"overhead ratio (whole run / unavoidable work) {wall / need:.2f}  (target <= 1.2)")
    if not args.skip_sequential:
        seq, seq_encodes = sequential_loop(res, TARGETS)
        print(
            f"sequential loop {seq:.1f} s ({seq_encodes / ops:.2f} encodes per (image, target)); "
            f"speed-up of bench run {seq / wall:.2f}x  (target >= 3)"
        )
    return wall


def bench_run(args, work: Path) -> None:
    section(f"run: default classification suite, {args.images} images, codecs {args.codecs}")
    codecs = args.codecs.split(",")
    cfg = make_config(codecs, args.images, work / "run", work / "cache-run")
    measure_run(args, cfg, codecs)


def bench_generated(args, work: Path) -> None:
    codecs = args.generated_codecs.split(",")
    section(f"run: larger generated set, {args.generated} images of 224 px, codecs {codecs}")
    labels = make_generated_set(work / "generated", args.generated)
    cfg = make_config(
        codecs,
        args.generated,
        work / "run-generated",
        work / "cache-generated",
        dataset=f"labels:{labels}",
        task_options={"num_classes": 1000},
    )
    measure_run(args, cfg, codecs)


def bench_cache(args, work: Path) -> None:
    section("cache: re-run with another model on the same images and codecs")
    codecs = args.codecs.split(",")
    cold_cfg = make_config(codecs, args.images, work / "cold", work / "cache-shared")
    cold, *_ = timed_run(cold_cfg)
    warm_cfg = make_config(
        codecs,
        args.images,
        work / "warm",
        work / "cache-shared",
        model="timm:mobilenetv3_small_100",
        weights="random",
    )
    warm, res, *_ = timed_run(warm_cfg)
    print(
        f"first run (cold cache, EfficientNet-Lite0) {cold:.1f} s; second run (warm cache, "
        f"MobileNetV3-S) {warm:.1f} s, {sum(res.encodes.values())} encodes; "
        f"speed-up {cold / warm:.2f}x  (target >= 5)"
    )


def bench_sweep(args, work: Path) -> None:
    section("sweep: bench codecs sweep vs python -m compressai.utils.bench")
    from importlib.metadata import distribution

    photos = work / "photos"
    photos.mkdir(exist_ok=True)
    src = Path(str(distribution("foolbox").locate_file("foolbox/data")))
    for p in sorted(src.glob("imagenet_*.jpg"))[: args.images]:
        shutil.copy(p, photos / p.name)
    qualities = [10, 30, 50, 70, 90]
    theirs_cmd = [sys.executable, "-m", "compressai.utils.bench"]
    for codec in ("jpeg", "webp"):
        q = ",".join(map(str, qualities))
        cmds = {
            "theirs": [*theirs_cmd, codec, str(photos), "-q", q],
            "ours": [str(BIN / "bench"), "codecs", "sweep", str(photos), "-c", codec,
                     "--quality", q, "--no-cache", "--json"],
        }
        times: dict[str, list[float]] = {"theirs": [], "ours": []}
        out: dict[str, str] = {}
        for _ in range(args.repeat):  # alternate, so drift hits both alike
            for who, cmd in cmds.items():
                t0 = time.perf_counter()
                proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
                times[who].append(time.perf_counter() - t0)
                out[who] = proc.stdout
        t_theirs, t_ours = (float(np.median(times[w])) for w in ("theirs", "ours"))
        a = json.loads(out["theirs"])["results"]
        b = json.loads(out["ours"])["summary"]
        dbpp = max(abs(x - s["bpp"]) for x, s in zip(a["bpp"], b, strict=True))
        dpsnr = max(abs(x - s["psnr"]) for x, s in zip(a["psnr-rgb"], b, strict=True))
        dms = max(abs(x - s["ms_ssim"]) for x, s in zip(a["ms-ssim-rgb"], b, strict=True))
        print(
            f"{codec}: compressai bench {t_theirs:.1f} s, bench codecs sweep {t_ours:.1f} s "
            f"(medians of {args.repeat}): {t_theirs / t_ours:.2f}x faster (target >= 2); "
            f"max |Δbpp| {dbpp:.1e} (identical: {dbpp == 0}), max |ΔPSNR| {dpsnr:.4f} dB "
            f"(target <= 0.01), max |ΔMS-SSIM| {dms:.1e}"
        )


def make_generated_set(root: Path, n: int) -> Path:
    from PIL import Image

    from lossybench.plugins.datasets.package_photos import PackagePhotos

    photos = [s.image() for s in PackagePhotos().samples()]
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    lines = ["image,label"]
    for i in range(n):
        src = photos[i % len(photos)]
        h, w = src.shape[:2]
        y, x = rng.integers(0, h - 224), rng.integers(0, w - 224)
        Image.fromarray(src[y : y + 224, x : x + 224]).save(root / f"{i:05d}.png")
        lines.append(f"{i:05d}.png,{i % 1000}")
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return root / "labels.csv"


def peak_rss(cmd: list[str]) -> tuple[float, float]:
    import psutil

    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    p = psutil.Process(proc.pid)
    peak = 0
    t0 = time.perf_counter()
    while proc.poll() is None:
        try:
            tree = [p, *p.children(recursive=True)]
            peak = max(peak, sum(q.memory_info().rss for q in tree if q.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.05)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed with {proc.returncode}")
    return peak / 2**20, time.perf_counter() - t0


def bench_memory(args, work: Path) -> None:
    section("memory: peak RSS of bench run at 100 and 1,000 generated images")
    labels = make_generated_set(work / "generated-1000", 1000)
    out = {}
    for n in (100, 1000):
        cmd = [
            str(BIN / "bench"),
            "run",
            "--dataset",
            f"labels:{labels}",
            "--task-option",
            "num_classes=1000",
            "-c",
            "jpeg",
            "--bpp",
            "0.5,1",
            "--limit",
            str(n),
            "--no-cache",
            "--no-plot",
            "--out",
            str(work / f"mem{n}"),
        ]
        rss, secs = peak_rss(cmd)
        out[n] = rss
        print(f"{n:5d} images: peak RSS {rss:.0f} MiB (process tree) in {secs:.0f} s")
    print(f"RSS 1000 / 100 = {out[1000] / out[100]:.3f}  (target within ±10%)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--only", choices=["run", "generated", "cache", "sweep", "memory"])
    ap.add_argument("--codecs", default="jpeg,webp,jpeg2000,avif,heic,jpegxl,cjpeg")
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--skip-sequential", action="store_true")
    ap.add_argument("--generated", type=int, default=200, help="images in the generated run")
    ap.add_argument("--generated-codecs", default="jpeg,webp,jpeg2000")
    ap.add_argument("--workers", type=int, default=None, help="codec workers (default: auto)")
    ap.add_argument("--repeat", type=int, default=3, help="sweep: timings per tool (median)")
    args = ap.parse_args()
    global WORKERS
    WORKERS = args.workers
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        steps = {
            "run": bench_run,
            "generated": bench_generated,
            "cache": bench_cache,
            "sweep": bench_sweep,
            "memory": bench_memory,
        }
        for name, fn in steps.items():
            if args.only in (None, name):
                fn(args, work)


if __name__ == "__main__":
    main()
