"""``optbench dashboard`` without a browser: refusals before the server starts, the token, read-only, traversal."""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.clirun import ENV, OPTBENCH, assert_one_line_exit_2, run

pytest.importorskip("starlette", reason="the dashboard extra is not installed (pip install 'optbench[dashboard]')")
pytest.importorskip("uvicorn", reason="the dashboard extra is not installed")

URL = re.compile(r"(http://\S+)")


def start_server(store: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    """``optbench dashboard --port 0`` in the background and the address it printed."""
    proc = subprocess.Popen([*OPTBENCH, "dashboard", "--store", str(store), "--port", "0", *args],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=ENV)
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    lines = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
        lines.append(line)
        found = URL.search(line)
        if found:
            return proc, found.group(1)
    proc.kill()
    raise AssertionError("the dashboard printed no address: " + "".join(lines)[-2000:])


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()




@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("board") / "store.sqlite"
    proc = run("compare", "--problems", "sphere(dim=2)", "--optimizers", "random", "--seeds", "2", "--budget", "50",
               "--store", str(path), "-q", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return path


def _files(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _get(url: str, path: str, *, method: str = "GET", headers: dict[str, str] | None = None
         ) -> tuple[int, dict[str, str], bytes]:
    """One request with ``path`` sent exactly as written (no client-side normalization of ``..``)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def test_stores_it_cannot_serve_are_one_line_before_anything_listens(tmp_path: Path) -> None:
    foreign = tmp_path / "contacts.sqlite"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE people (name TEXT)")
    db.commit()
    db.close()
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    (tmp_path / "empty.sqlite").write_bytes(b"")
    cases = {str(tmp_path / "missing.sqlite"): "no store at", str(tmp_path): "is a folder",
             str(foreign): "not an optbench store", str(tmp_path / "notes.txt"): "not an SQLite file",
             str(tmp_path / "empty.sqlite"): "empty file"}
    before = _files(tmp_path)
    for path, message in cases.items():
        assert_one_line_exit_2(run("dashboard", "--store", path, "--port", "0", timeout=60), message)
    assert _files(tmp_path) == before  # nothing created, nothing changed


def test_a_damaged_store_is_refused_and_left_byte_identical(store: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.sqlite"
    data = bytearray(store.read_bytes())
    page = 4096  # page 2 onwards: the header stays an SQLite header, a b-tree page is zeroed
    data[page: 2 * page] = bytes(page)
    broken.write_bytes(bytes(data))
    digest = hashlib.sha256(broken.read_bytes()).hexdigest()
    assert_one_line_exit_2(run("dashboard", "--store", str(broken), "--port", "0", timeout=60), "damaged")
    assert hashlib.sha256(broken.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.sqlite"]


def test_options_that_are_mistakes(store: Path) -> None:
    assert_one_line_exit_2(run("dashboard", "--store", str(store), "--host", "0.0.0.0", timeout=60), "--expose")
    assert_one_line_exit_2(run("dashboard", "--store", str(store), "--port", "70000", timeout=60), "65535")
    assert_one_line_exit_2(run("dashboard", "--store", str(store), "--refresh", "0.01", timeout=60), "--refresh")
    assert_one_line_exit_2(run("dashboard", "--store", str(store), "--host", "no.such.host.invalid", "--expose",
                               timeout=60), "no.such.host.invalid")


def test_a_taken_port_is_one_line(store: Path) -> None:
    server, url = start_server(store)
    try:
        port = str(urlsplit(url).port)
        assert_one_line_exit_2(run("dashboard", "--store", str(store), "--port", port, timeout=60), "in use")
    finally:
        stop(server)


def test_serving_reads_only_and_serves_nothing_outside_its_assets(store: Path) -> None:
    folder = store.parent
    before = _files(folder)
    server, url = start_server(store)
    try:
        for path in ("/", "/run/1", "/api/runs", "/api/runs/1", "/api/runs/1/summary", "/api/changes", "/api/history",
                     "/api/diff/1/1", "/assets/app.js", "/assets/plotly.min.js"):
            status, headers, body = _get(url, path)
            assert status == 200, (path, body[:200])
            assert "script-src 'self'" in headers["content-security-policy"]
        assert json.loads(_get(url, "/api/runs")[2])["runs"][0]["counts"]["complete"] == 2
        probes = ("/assets/../../../../etc/passwd", "/assets/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
                  "/assets/..%2f..%2f..%2fpyproject.toml", "/assets/%2fetc%2fpasswd", "/assets//etc/passwd",
                  "/../../etc/passwd", "/assets/page.html", "/assets/readonly.py", "/assets/..\\..\\data.py",
                  "/api/runs/99", "/run/x")
        for path in probes:
            status, _, body = _get(url, path)
            assert status == 404, (path, status)
            assert b"root:" not in body and b"[project]" not in body and b"import" not in body
        assert _get(url, "/api/runs", method="POST")[0] == 405
        assert _get(url, "/", headers={"Host": "attacker.example"})[0] == 400  # DNS rebinding: a foreign host name
    finally:
        stop(server)
    assert _files(folder) == before  # no -wal, no -shm, not a byte changed


def test_another_host_needs_expose_warns_and_requires_the_token(store: Path) -> None:
    server, url = start_server(store, "--host", "0.0.0.0", "--expose")
    try:
        token = url.split("token=", 1)[1]
        assert len(token) >= 24
        base = url.split("?", 1)[0].replace("0.0.0.0", "127.0.0.1")
        for path in ("/", "/api/runs", "/assets/app.js"):
            assert _get(base, path)[0] == 401
        assert _get(base, "/api/runs?token=wrong")[0] == 401
        assert _get(base, "/api/runs", headers={"Authorization": f"Bearer {token}"})[0] == 200
        status, headers, _ = _get(base, f"/run/1?token={token}")
        assert status == 303 and headers["location"].endswith("/run/1") and "httponly" in headers["set-cookie"].lower()
        cookie = headers["set-cookie"].split(";", 1)[0]
        assert _get(base, "/api/runs", headers={"Cookie": cookie})[0] == 200
    finally:
        stop(server)


def test_the_warning_comes_before_the_address(store: Path) -> None:
    proc = subprocess.Popen([*OPTBENCH, "dashboard", "--store", str(store), "--port", "0", "--host", "0.0.0.0",
                             "--expose"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=ENV)
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        assert first.startswith("warning:") and "other machines" in first, first
        assert "token=" in proc.stderr.readline()
    finally:
        stop(proc)
