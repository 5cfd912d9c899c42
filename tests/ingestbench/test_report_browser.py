"""report.html in headless Chromium with no network: the charts lay out with a size, the page is not blank."""

import re
import shutil
import struct
import subprocess
import zlib

import pytest

from ingestbench.cli import main
from tests.ingestbench.synthetic import make_run_dir

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# skipped where chromium is missing; under CI (which installs it) tests/conftest.py makes that skip a failure
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]


def chromium(tmp_path, *args):
    assert CHROMIUM, "chromium is required here"
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def png_pixels(path):
    """Decode an 8-bit RGB/RGBA PNG (what Chromium writes) into rows of bytes."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and color in (2, 6)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return rows, bpp


def test_report_html_renders_charts_offline(tmp_path):
    run = make_run_dir(tmp_path / "run")
    assert main(["report", str(run)]) == 0
    url = (run / "report.html").resolve().as_uri()
    dom = chromium(tmp_path, "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    sizes = re.findall(r'class="chart"[^>]*data-rendered="(\d+)x(\d+)"', dom.stdout)
    assert len(sizes) >= 5, "every chart should report its laid-out size"
    assert all(int(w) > 300 and int(h) > 150 for w, h in sizes), sizes
    shot = tmp_path / "shot.png"
    res = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,1600", "--hide-scrollbars", url)
    assert res.returncode == 0 and shot.exists(), res.stderr[-2000:]
    rows, bpp = png_pixels(shot)
    colours = {row[i:i + 3] for row in rows[::8] for i in range(0, len(row), bpp * 8)}
    assert len(colours) > 20, "the screenshot is (nearly) blank"
    # the bar colour of the TTA histograms is on screen
    assert any(abs(c[0] - 0x4F) < 12 and abs(c[1] - 0x7C) < 12 and abs(c[2] - 0xD6) < 12 for c in colours)


def grow_samples(run, n):
    """Grow the run's samples.jsonl to ``n`` observations: its own lines again and again, with fresh ids."""
    lines = [line for line in (run / "samples.jsonl").read_bytes().splitlines() if line.startswith(b'{"canary_id"')]
    with (run / "samples.jsonl").open("wb") as out:
        for i in range(n):
            line = lines[i % len(lines)]
            out.write(b'{"canary_id":"g%d"' % i + line[line.index(b'",') + 1:] + b"\n")


@pytest.mark.slow
def test_a_million_canaries_give_a_small_page_that_renders(tmp_path):
    run = make_run_dir(tmp_path / "run", status="finished", steps=((200, 60), (1500, 60)))
    grow_samples(run, 1_000_000)
    assert main(["report", str(run)]) in (0, 1)
    html = (run / "report.html").read_text()
    assert (run / "report.html").stat().st_size < 2_000_000
    assert re.search(r"a random sample of canaries \(low: 1,500 of \d{3},\d{3}; high: 1,500 of \d{3},\d{3}\)", html)
    assert sum(1 for _ in (run / "judged.jsonl").open("rb")) == 1_000_000
    url = (run / "report.html").resolve().as_uri()
    dom = chromium(tmp_path, "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    sizes = re.findall(r'class="chart"[^>]*data-rendered="(\d+)x(\d+)"', dom.stdout)
    assert len(sizes) >= 5 and all(int(w) > 300 and int(h) > 150 for w, h in sizes), sizes
    shot = tmp_path / "shot.png"
    res = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,1600", "--hide-scrollbars", url)
    assert res.returncode == 0 and shot.exists(), res.stderr[-2000:]
    rows, bpp = png_pixels(shot)
    assert len({row[i:i + 3] for row in rows[::8] for i in range(0, len(row), bpp * 8)}) > 20


def test_the_search_report_draws_each_tiers_steps_and_bounds_offline(tmp_path):
    from ingestbench.results import search_report
    from ingestbench.results.search import SearchConfig
    from ingestbench.results.search_result import summarize
    from tests.ingestbench.test_search_logic import HIGH, LOW, simulate, window
    result = summarize(simulate(SearchConfig(100, 20_000), (LOW, HIGH), window(3000, 12_000)), search_id="s",
                       scenario="x", time_scale=1)
    search_report.write(tmp_path, result)
    page = (tmp_path / "report.html").read_text()
    assert page.count("<circle") == sum(1 for s in result.steps if s.judged_s)  # one dot per judged step and tier
    assert "holds from 3,0" in page or "holds from 3,1" in page
    dom = chromium(tmp_path, "--dump-dom", (tmp_path / "report.html").resolve().as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    sizes = re.findall(r'class="chart"[^>]*data-rendered="(\d+)x(\d+)"', dom.stdout)
    assert len(sizes) == 2 and all(int(w) > 300 and int(h) > 150 for w, h in sizes), sizes
