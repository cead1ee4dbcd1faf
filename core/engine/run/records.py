"""Per-image records: the append-only JSONL a run resumes from and aggregates.

Every record is appended as soon as its image is done, so a killed run restarted
with the same command skips finished images; every aggregate in the result is
recomputed from these records.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from lossybench.dataset import Sample
from lossybench.engine.codec_stage import ImageWork
from lossybench.engine.ratecontrol import RATE_CONTROL
from lossybench.errors import LossybenchError
from lossybench.model import LoadedModel
from lossybench.task import Task

RECORDS_FORMAT = 1


def record_key(rec: dict[str, Any]) -> tuple[str, str | None, float | None]:
    return rec["image"], rec.get("codec"), rec.get("point")


class RecordLog:
    """Append-only JSONL of per-image records, with a header that pins the config."""

    def __init__(self, path: Path, digest: str) -> None:
        self.path = path
        self.digest = digest
        self.done: set[str] = set()  # ids only: memory must not grow with the dataset
        if path.exists():
            self._load()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._write_line(self.header(digest))

    @staticmethod
    def header(digest: str) -> dict[str, Any]:
        # which rate control chose the settings: a run resumed under another one would mix
        # answers of two searches (the config digest cannot tell them apart)
        return {"lossybench_records": RECORDS_FORMAT, "config_sha256": digest,
                "rate_control": RATE_CONTROL}

    def _load(self) -> None:
        lines = self.path.read_bytes().split(b"\n")
        good: list[bytes] = []
        for i, raw in enumerate(lines):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError:
                if i >= len(lines) - 2:  # a torn last line from a killed run: drop it
                    break
                raise LossybenchError(
                    f"{self.path}: line {i + 1} is not JSON; delete the file to start over"
                ) from None
            if not good:
                if obj.get("config_sha256") != self.digest:
                    raise LossybenchError(
                        f"{self.path} holds records of a different configuration; "
                        "use another --out or --name, or delete it to start over"
                    )
                if obj.get("rate_control") != RATE_CONTROL:
                    raise LossybenchError(
                        f"{self.path} holds records whose settings an older rate control "
                        "chose; resuming would mix two searches: use another --out or "
                        "--name, or delete it to start over"
                    )
            else:
                self.done.add(obj["image"])
            good.append(raw)
        # rewrite without a torn tail so later appends stay valid JSONL
        self.path.write_bytes(b"\n".join(good) + b"\n")

    def _write_line(self, obj: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(obj, sort_keys=True, allow_nan=False) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def append_image(self, records: list[dict[str, Any]]) -> None:
        """All records of one image in one write: an image is done or not at all."""
        text = "".join(json.dumps(r, sort_keys=True, allow_nan=False) + "\n" for r in records)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        self.done.add(records[0]["image"])

    def records(self, wanted: set[str] | None = None) -> list[dict[str, Any]]:
        """Read the records back (of the ``wanted`` images only, if given)."""
        out = []
        with open(self.path, encoding="utf-8") as f:
            next(f, None)  # header
            for line in f:
                rec = json.loads(line)
                if wanted is None or rec["image"] in wanted:
                    out.append(rec)
        return out


def finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def image_records(
    work: ImageWork, sample: Sample, task: Task, model: LoadedModel, batch_size: int
) -> list[dict[str, Any]]:
    """Predict on the original and every decoded point; score; build JSONL records."""
    if work.image is None:
        return [{"image": sample.id, "codec": None, "point": None, "error": work.error}]
    # points that share a bitstream share one decoded array (codec_stage): predict once
    inputs = [work.image]
    slot: dict[int, int] = {}
    for it in work.items:
        if it.decoded is not None and id(it.decoded) not in slot:
            slot[id(it.decoded)] = len(inputs)
            inputs.append(it.decoded)
    preds: list[Any] = []
    for i in range(0, len(inputs), batch_size):
        preds.extend(model.predict(inputs[i : i + batch_size]))
    records = [
        {
            "image": sample.id,
            "codec": None,
            "point": None,
            "outcome": task.outcome(sample, preds[0]),
            "error": None,
        }
    ]
    for it in work.items:
        rec: dict[str, Any] = {
            "image": sample.id,
            "codec": it.codec,
            "point": it.point,
            "quality": it.quality,
            "bytes": it.nbytes,
            "bpp": it.bpp,
            "psnr": finite(it.psnr),
            "status": it.status,
            "error": it.error,
            "outcome": None,
        }
        if it.decoded is not None:
            rec["outcome"] = task.outcome(sample, preds[slot[id(it.decoded)]])
        records.append(rec)
    return records


def write_records(path: Path, digest: str, records: list[dict[str, Any]]) -> None:
    """The whole JSONL at once, atomically, in the byte format RecordLog appends."""
    lines = [RecordLog.header(digest), *records]
    text = "".join(json.dumps(r, sort_keys=True, allow_nan=False) + "\n" for r in lines)
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
