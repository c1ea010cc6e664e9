"""The README as a landing page: at most 250 lines, and every command and code block in it runs as written.

Shell blocks run line by line in a fresh folder, in order (later commands read what earlier ones wrote), as a
user pasting them would; a ``make TARGET`` line is checked with ``make -n`` (a dry run: the target exists and its
recipe expands), since running ``make test`` from inside the tests would recurse. Python blocks run in a fresh
interpreter; the "From Python" block is run and compared with the CLI by ``tests/test_api.py``.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

from clirun import ENV

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def commands(block: str) -> list[str]:
    """The block's commands: comments dropped, continuation lines joined."""
    joined = block.replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            out.append(shlex.join(words))
    return out


def test_the_readme_is_a_landing_page_of_at_most_250_lines():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; move detail into docs/"


def test_every_local_link_of_the_readme_exists():
    targets = LINK.findall(README.read_text(encoding="utf-8"))
    local = [t for t in targets if "://" not in t]
    assert local, "the README links to no page of the documentation"
    missing = [t for t in local if not (ROOT / t).exists()]
    assert not missing, f"README links to missing files: {missing}"


def test_every_shell_command_of_the_readme_runs_as_written(tmp_path):
    lines = [c for b in blocks("bash") for c in commands(b)]
    assert any(c.startswith("optbench compare") for c in lines), "the README lost its commands"
    bin_dir = str(Path(sys.executable).parent)
    env = {**ENV, "PATH": f"{bin_dir}:{ENV.get('PATH', '')}"}
    for line in lines:
        words = shlex.split(line)
        if words[0] == "make":
            proc = subprocess.run(["make", "-n", *words[1:]], cwd=ROOT, capture_output=True, text=True, env=env,
                                  timeout=120, check=False)
        else:
            assert words[0] == "optbench", f"the README runs {words[0]!r}; only optbench and make are checked"
            proc = subprocess.run(line, shell=True, cwd=tmp_path, capture_output=True, text=True, env=env,
                                  timeout=300, check=False)
        assert proc.returncode == 0, f"$ {line}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        assert "Traceback" not in proc.stderr, f"$ {line}\n{proc.stderr[-2000:]}"


def test_every_python_block_of_the_readme_runs_as_written(tmp_path):
    text = README.read_text(encoding="utf-8")
    api_section = text.split("## From Python", 1)[1].split("\n## ", 1)[0]
    others = [b for b in blocks("python") if b not in api_section]
    assert others, "the README lost its plugin example"
    for block in others:
        proc = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True,
                              env=dict(ENV), timeout=300, check=False)
        assert proc.returncode == 0, f"{block}\n{proc.stderr[-3000:]}"
        assert "|" in proc.stdout, f"the example printed no table:\n{proc.stdout[-2000:]}"
