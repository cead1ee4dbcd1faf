"""The published page and Markdown: escaping, no network assets, and a real browser.

The browser tests drive Debian's headless Chromium: sorting through the page's URL
hooks (``#sort=TABLE.COL:DIR``, ``#click=TABLE.COL,...``), the DOM read back with
``--dump-dom``, and a screenshot checked for drawn plots.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from leaderboard_fixtures.factory import DATASET_SHA, make_result, toy_registry
from typer.testing import CliRunner

from lossybench.leaderboard import cli as lb_cli
from lossybench.leaderboard.board import Board, BoardEntry, _dump, index_line
from lossybench.leaderboard.ranking import board_views
from lossybench.leaderboard.render import md_escape, render_markdown

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = "<script>alert(1)</script>"
IMG = "\"><img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"


def inject(board: Board, entry: BoardEntry) -> None:
    """Add an entry by editing the board's files, as a hand edit in git could."""
    data = _dump(entry.model_dump(mode="json"))
    sha = hashlib.sha256(data).hexdigest()
    rel = f"entries/{entry.id}.{sha[:16]}.json"
    (board.root / rel).write_bytes(data)
    index = board.index()
    index.entries.append(index_line(entry, rel, sha))
    board.index_path.write_bytes(_dump(index.model_dump(mode="json")))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A board of two honest results plus hostile names; rendered by the command line."""
    tmp = tmp_path_factory.mktemp("site")
    reg = toy_registry()
    a, _ = make_result(tmp, "a", n=12)
    b, _ = make_result(tmp, "b", model="timm:other_net", n=12, p_clean=0.7, seed=1,
                       codecs={"jpeg": 0.5, "webp": 0.4, "avif": 0.2})
    board = Board(tmp / "board")
    board.init()
    board.add_dataset("imagenet-samples", DATASET_SHA)
    assert board.submit([a, b], reg, resamples=30).ok
    honest = board.entries()[0]
    inject(board, honest.model_copy(update={"id": "f" * 64, "model": SCRIPT,
                                            "codec_label": IMG}))
    inject(board, honest.model_copy(update={"id": "e" * 64, "model": "a|b `c` *d* [x](y)",
                                            "codec_label": "jpeg"}))
    res = CliRunner().invoke(lb_cli.app, ["render", "--board", str(board.root), "--out",
                                          str(tmp / "out"), "--title", "Board <b>&</b>"])
    assert res.exit_code == 0, res.output
    return tmp / "out"


def test_every_string_is_escaped(site: Path) -> None:
    page = (site / "index.html").read_text()
    assert page.count("<script") == 1  # the page's own
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=" in page
    assert "<title>Board &lt;b&gt;&amp;&lt;/b&gt;</title>" in page


def test_no_network_assets_and_a_strict_content_policy(site: Path) -> None:
    page = (site / "index.html").read_text()
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:|//)""", page, re.I)
    assert "@import" not in page and "url(" not in page
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp is not None
    policy = html.unescape(csp.group(1))
    assert "default-src 'none'" in policy
    for tag in ("script", "style"):
        body = re.search(rf"<{tag}>(.*?)</{tag}>", page, re.S)
        assert body is not None
        digest = base64.b64encode(hashlib.sha256(body.group(1).encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy, f"{tag} hash not allowed by the CSP"


def test_markdown_table_is_literal(site: Path) -> None:
    md = (site / "leaderboard.md").read_text()
    assert "a\\|b \\`c\\` \\*d\\* \\[x\\]\\(y\\)" in md
    assert "&lt;script&gt;alert\\(1\\)&lt;/script&gt;" in md and "<script>" not in md
    tables: list[list[str]] = [[]]
    for line in md.splitlines():
        if line.startswith("|"):
            tables[-1].append(line)
        elif tables[-1]:
            tables.append([])
    entries, codecs = [t for t in tables if t]
    for rows, n in ((entries, 7), (codecs, 4)):  # 7 entries; jpeg, webp, avif, IMG
        widths = {len(re.findall(r"(?<!\\)\|", line)) for line in rows}
        assert len(widths) == 1 and len(rows) == 2 + n  # header, rule, rows
    assert md_escape("x\n|y") == "x \\|y"


def test_the_common_range_and_the_new_columns_are_stated(site: Path) -> None:
    """Page, Markdown, `show` and `show --json` say which range the board is ranked on."""
    page = (site / "index.html").read_text()
    md = (site / "leaderboard.md").read_text()
    board = site.parent / "board"
    (view,) = board_views(Board(board).entries())
    assert view.common_range is not None
    lo, hi = view.common_range
    stated = f"{lo:.3g}–{hi:.3g} bpp"
    assert f"ranked on <b>{stated}</b>" in page and f"robustness {stated} [95% CI]" in page
    for head in ("95% kept at bpp", "99% kept at bpp", "BD-rate vs JPEG",
                 "robustness 0.1–2 bpp"):
        assert head in page and md_escape(head) in md
    assert f"Ranked on the common range {stated}" in md
    run = CliRunner().invoke
    res = run(lb_cli.app, ["show", "--board", str(board)])
    assert res.exit_code == 0, res.output
    assert f"ranked on the common range {stated}" in res.stdout and "BD-rate" in res.stdout
    res = run(lb_cli.app, ["show", "--board", str(board), "--json"])
    (bv,) = json.loads(res.stdout)["boards"]
    assert bv["common_range"] == [lo, hi] and bv["keep_fractions"] == [0.95, 0.99]
    assert len(bv["ranking"]) == 7 and set(bv["ranking"]) == {r["id"] for r in bv["rows"]}
    row = next(r for r in bv["rows"] if r["id"] == bv["ranking"][0])
    assert row["common_rank"] == 1 and row["common"] is not None
    assert set(row["keep"]) == {"0.95", "0.99"} and "bpp" in row["keep"]["0.95"]["value"]
    codecs = {c["codec"]: c for c in bv["codecs"]}
    assert codecs["jpeg"]["bd_rate_reason"] == "reference"
    assert set(codecs["webp"]["bd_rate_models"]) == {"timm:toy_net", "timm:other_net"}


def test_empty_board_renders() -> None:
    assert "no entries yet" in render_markdown(board_views([]))


# -- headless Chromium --------------------------------------------------------------------
def _find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's chromium; installed by scripts/install-system-deps.sh when absent."""
    found = _find_chromium()
    if found is None:
        subprocess.run(["bash", str(ROOT / "scripts" / "install-system-deps.sh")],
                       check=False, timeout=900)
        found = _find_chromium()
    if found is None:
        pytest.skip("chromium is not installed and scripts/install-system-deps.sh could not "
                    "install it (needs apt-get and root); apt-get install chromium")
    return found


def browse(chromium: str, tmp: Path, url: str, *extra: str) -> str:
    profile = tmp / f"profile-{hashlib.sha1(url.encode()).hexdigest()[:8]}"
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
           "--virtual-time-budget=5000", *extra, url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class Tables(HTMLParser):
    """Rows of every table (cell text and data-sort), and <body>/<th> attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[tuple[str | None, str]]]] = {}
        self.heads: dict[str, list[dict[str, str | None]]] = {}
        self.body: dict[str, str | None] = {}
        self.scripts = 0
        self._table: str | None = None
        self._cell: list[Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "body":
            self.body = a
        elif tag == "script":
            self.scripts += 1
        elif tag == "table":
            self._table = a.get("id") or "?"
            self.tables[self._table] = []
            self.heads[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag == "th" and self._table:
            self.heads[self._table].append(a)
        elif tag == "td" and self._table:
            self._cell = [a.get("data-sort"), ""]

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self._table:
            self.tables[self._table][-1].append((self._cell[0], self._cell[1]))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell[1] += data


def dom(chromium: str, tmp: Path, site: Path, fragment: str = "") -> Tables:
    url = (site / "index.html").as_uri() + fragment
    parsed = Tables()
    parsed.feed(browse(chromium, tmp, url, "--dump-dom"))
    return parsed


def column(t: Tables, table: str, col: int) -> list[str | None]:
    return [row[col][0] for row in t.tables[table] if row]


def test_table_sorts(chromium: str, site: Path, tmp_path: Path) -> None:
    t = dom(chromium, tmp_path, site, "#sort=entries-0.3:asc")
    clean = [float(v) for v in column(t, "entries-0", 3) if v]
    assert len(clean) == 7 and clean == sorted(clean)
    assert t.heads["entries-0"][3]["aria-sort"] == "ascending"
    # a click on a header sorts by it (ascending first for text), a second click reverses
    once = dom(chromium, tmp_path, site, "#click=entries-0.1")
    models = column(once, "entries-0", 1)
    assert models == sorted(models) and len(set(models)) > 1
    twice = dom(chromium, tmp_path, site, "#click=entries-0.1,entries-0.1")
    assert column(twice, "entries-0", 1) == sorted(models, reverse=True)
    assert twice.heads["entries-0"][1]["aria-sort"] == "descending"
    # numeric columns start with the best value; undefined cells always go last
    rob = column(dom(chromium, tmp_path, site, "#click=entries-0.8"), "entries-0", 8)
    defined = [float(v) for v in rob if v]
    assert defined == sorted(defined, reverse=True)
    assert all(rob[: len(defined)]), "undefined cells sort last"


def test_script_in_a_name_renders_as_text(chromium: str, site: Path, tmp_path: Path) -> None:
    t = dom(chromium, tmp_path, site)
    assert t.scripts == 1 and "data-pwned" not in t.body
    texts = [cell[1] for row in t.tables["entries-0"] for cell in row]
    assert SCRIPT in texts
    assert any(IMG in text for text in texts)


def test_plots_show(chromium: str, site: Path, tmp_path: Path) -> None:
    t = dom(chromium, tmp_path, site)
    assert t.body.get("data-plots") == "1/1"  # every plot image decoded
    shot = tmp_path / "page.png"
    browse(chromium, tmp_path, (site / "index.html").as_uri(), f"--screenshot={shot}",
           "--window-size=1300,1500")
    from PIL import Image

    with Image.open(shot) as img:
        rgb = img.convert("RGB")
    assert rgb.size == (1300, 1500)
    counts = {c: n for n, c in rgb.getcolors(maxcolors=1 << 22) or []}
    # the plot's shaded 0.1–2 bpp band (#eef2fb) covers a large area: the plot was drawn
    assert counts.get((0xEE, 0xF2, 0xFB), 0) > 20_000
    assert len(counts) > 500  # text, lines and markers, not a blank page
