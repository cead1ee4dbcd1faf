"""``labels:FILE``: a list of (image, class index) pairs in CSV or JSON.

For images that are not sorted into class folders. Image paths are relative to the
folder of the list file (absolute paths are kept). Accepted layouts:

* CSV (any suffix but ``.json``; tab-separated when the first line has tabs and no
  commas): ``image,label`` rows. The header is optional: a first row whose label cell
  is not an integer is a header and must name the columns ``image`` and ``label``
  (any order; other columns are ignored). Blank lines and lines starting with ``#``
  are skipped.
* JSON: ``[{"image": "a.jpg", "label": 3}, ...]``, or ``{"a.jpg": 3, ...}``, or either
  wrapped as ``{"num_classes": 1000, "items": ...}`` to state the class count.

Classes: ``num_classes`` when given, else the largest label + 1; categories are
``0..K-1`` named by their index. Everything is checked when the dataset is opened,
and each problem names its line (CSV) or entry (JSON). A listed image that exists but
is not a regular file (a FIFO, a device, a directory, a dangling symlink) is kept: its
sample fails with the reason (``not a regular file (FIFO)``) without being opened.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lossybench import hookimpl
from lossybench.dataset import Dataset, Sample
from lossybench.errors import DatasetError

INT_RE = re.compile(r"^[+-]?\d+$")
#: how many problems one error message lists before summarising the rest.
SHOW = 10


def parse_label(value: Any) -> int | None:
    """An integer class index from an int or a digit string; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and INT_RE.match(value.strip()):
        return int(value.strip())
    return None


class LabelsList(Dataset):
    name = "labels"
    description = "a CSV or JSON list of image,label pairs (paths relative to the list)"
    task = "classification"

    def __init__(self, location: str | None = None) -> None:  # takes no options
        super().__init__(location)
        if not location:
            raise DatasetError("labels needs a list file: --dataset labels:FILE.csv|FILE.json")
        path = Path(location).expanduser()
        if not path.is_file():
            raise DatasetError(f"labels: {path} does not exist or is not a file")
        self.path = path
        self.num_classes: int | None = None
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise DatasetError(f"labels: cannot read {path} as UTF-8 text ({exc})") from None
        # (where, image, raw label) with `where` naming the line or entry for errors
        is_json = path.suffix.lower() == ".json"
        rows = self._json_rows(text) if is_json else self._csv_rows(text)
        self.items = self._check(rows)

    # -- parsing -----------------------------------------------------------------------
    def _csv_rows(self, text: str) -> list[tuple[str, Any, Any]]:
        first = next((ln for ln in text.splitlines() if ln.strip()), "")
        delimiter = "\t" if "\t" in first and "," not in first else ","
        rows: list[tuple[str, Any, Any]] = []
        columns: tuple[int, int] | None = None
        for lineno, cells in self._csv_lines(text, delimiter):
            where = f"line {lineno}"
            cells = [c.strip() for c in cells]
            if columns is None:
                lower = [c.lower() for c in cells]
                if len(cells) >= 2 and parse_label(cells[1]) is None and not rows:
                    if "image" not in lower or "label" not in lower:
                        raise DatasetError(
                            f"labels: {self.path} {where}: a header must name the columns "
                            f"'image' and 'label', got {cells!r}"
                        )
                    columns = (lower.index("image"), lower.index("label"))
                    continue
                columns = (0, 1)
            i, j = columns
            if len(cells) <= max(i, j):
                rows.append((where, None, None))
                continue
            rows.append((where, cells[i], cells[j]))
        return rows

    @staticmethod
    def _csv_lines(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        for cells in reader:
            lineno = reader.line_num
            if not cells or not "".join(cells).strip() or cells[0].lstrip().startswith("#"):
                continue
            yield lineno, cells

    def _json_rows(self, text: str) -> list[tuple[str, Any, Any]]:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"labels: {self.path} is not valid JSON: {exc}") from None
        if isinstance(data, dict) and "items" in data:
            extra = set(data) - {"items", "num_classes"}
            if extra:
                raise DatasetError(
                    f"labels: {self.path}: unknown key(s) {sorted(extra)} next to 'items' "
                    "(allowed: num_classes, items)"
                )
            if "num_classes" in data:
                k = parse_label(data["num_classes"])
                if k is None or k < 1 or isinstance(data["num_classes"], str):
                    raise DatasetError(
                        f"labels: {self.path}: num_classes must be a positive integer, "
                        f"not {data['num_classes']!r}"
                    )
                self.num_classes = k
            data = data["items"]
        if isinstance(data, dict):
            return [(f"entry {img!r}", img, label) for img, label in data.items()]
        if isinstance(data, list):
            rows: list[tuple[str, Any, Any]] = []
            for n, entry in enumerate(data):
                where = f"entry {n} (items[{n}])"
                if not isinstance(entry, dict) or "image" not in entry or "label" not in entry:
                    rows.append((where, None, None))
                else:
                    rows.append((where, entry["image"], entry["label"]))
            return rows
        raise DatasetError(
            f"labels: {self.path}: expected a list of {{\"image\": ..., \"label\": ...}} "
            f"objects or an {{\"image\": label}} object, got {type(data).__name__}"
        )

    # -- checking ----------------------------------------------------------------------
    def _check(self, rows: list[tuple[str, Any, Any]]) -> list[tuple[str, Path, int]]:
        problems: list[str] = []
        items: list[tuple[str, Path, int]] = []
        seen: dict[str, str] = {}
        base = self.path.parent
        for where, image, raw in rows:
            if image is None:
                problems.append(f"{where}: needs an image and a label")
                continue
            if not isinstance(image, str) or not image.strip():
                problems.append(f"{where}: image must be a path string, got {image!r}")
                continue
            label = parse_label(raw)
            if label is None or label < 0:
                problems.append(
                    f"{where}: label {raw!r} of {image!r} is not a class index (integer ≥ 0)"
                )
                continue
            if self.num_classes is not None and label >= self.num_classes:
                problems.append(
                    f"{where}: label {label} of {image!r} is outside [0, {self.num_classes})"
                )
                continue
            sample_id = Path(image.strip()).as_posix()
            if sample_id in seen:
                problems.append(
                    f"{where}: image {image!r} is listed twice (also {seen[sample_id]})"
                )
                continue
            seen[sample_id] = where
            file = Path(image.strip()).expanduser()
            file = file if file.is_absolute() else base / file
            if not os.path.lexists(file):  # not a regular file: that image fails, see above
                problems.append(f"{where}: image file {file} does not exist")
                continue
            items.append((sample_id, file, label))
        if problems:
            more = f"\n  ... and {len(problems) - SHOW} more" if len(problems) > SHOW else ""
            raise DatasetError(
                f"labels: {len(problems)} problem(s) in {self.path}:\n  "
                + "\n  ".join(problems[:SHOW]) + more
            )
        if not items:
            raise DatasetError(f"labels: {self.path} lists no images")
        return items

    # -- dataset -----------------------------------------------------------------------
    def samples(self) -> Iterator[Sample]:
        for sample_id, path, label in self.items:
            yield Sample(id=sample_id, source=str(path), target=label)

    def __len__(self) -> int:
        return len(self.items)

    def categories(self) -> list[dict[str, Any]]:
        k = self.num_classes or max(label for _, _, label in self.items) + 1
        return [{"id": i, "name": str(i)} for i in range(k)]


@hookimpl
def lossybench_datasets() -> list[type[Dataset]]:
    return [LabelsList]
