"""README.md's folder tables match the repository, and no file of it points outside it.

The README names every top-level folder in the table under "## Where things live" and every
package of `clickstream/` (plus its key modules) in the table under "### Inside `clickstream/`":
each row's first column holds the entries in backticks (`clickstream/`, `clickstream/events/`).
Folders are those git tracks (`git ls-files`), so `.venv/`, build output and other ignored
folders never count; dot-folders (`.ci/`) are left out.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
TOP_HEADING = "## Where things live"
PACKAGES_HEADING = "### Inside `clickstream/`"
PACKAGE = "clickstream"
BACKTICKED = re.compile(r"`([^`]+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
OUTSIDE = re.compile(r"(\.\./)+shared\b|/work/shared\b")  # the design lives in docs/, not beside the repo


def _git_ls_files(*args: str) -> list[str]:
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    done = subprocess.run([git, "ls-files", "-z", *args], cwd=ROOT, capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"not a git checkout: {done.stderr.decode(errors='replace').strip()}")
    return [path for path in done.stdout.decode().split("\0") if path]


@pytest.fixture(scope="module")
def tracked() -> list[str]:
    return _git_ls_files()


@pytest.fixture(scope="module")
def markdown_files() -> list[Path]:
    """Tracked Markdown files, and new ones not yet committed (ignored files excluded)."""
    return [ROOT / p for p in _git_ls_files("--cached", "--others", "--exclude-standard", "--", "*.md")]


def table_entries(markdown: str, heading: str) -> list[str]:
    """The backticked names in the first column of the first table after `heading`."""
    lines = markdown.splitlines()
    assert heading in lines, f"README.md has no {heading!r} heading"
    rows: list[str] = []
    for line in lines[lines.index(heading) + 1 :]:
        if line.startswith("|"):
            rows.append(line)
        elif rows or line.startswith("#"):
            break
    assert len(rows) > 2, f"no table under {heading!r}"
    entries = []
    for row in rows[2:]:  # after the header and the |---| line
        first_cell = row.split("|")[1]
        names = BACKTICKED.findall(first_cell)
        assert names, f"a row under {heading!r} names nothing in backticks: {row}"
        entries.extend(names)
    return entries


def test_the_folder_table_lists_every_top_level_folder(tracked: list[str]) -> None:
    # GIVEN the folders git tracks at the top level
    folders = {path.split("/")[0] for path in tracked if "/" in path and not path.startswith(".")}

    # WHEN the README's table is read
    entries = table_entries(README.read_text(), TOP_HEADING)

    # THEN it names each of them once, as `name/`, and nothing else
    assert all(e.endswith("/") and e.count("/") == 1 for e in entries), entries
    listed = [e.rstrip("/") for e in entries]
    assert len(listed) == len(set(listed)), f"listed twice: {listed}"
    assert set(listed) == folders, f"missing: {sorted(folders - set(listed))}; gone: {sorted(set(listed) - folders)}"


def test_the_package_table_lists_every_clickstream_package(tracked: list[str]) -> None:
    # GIVEN the folders git tracks directly inside clickstream/
    prefix = f"{PACKAGE}/"
    packages = {p.split("/")[1] for p in tracked if p.startswith(prefix) and p.count("/") >= 2}

    # WHEN the README's table is read
    entries = table_entries(README.read_text(), PACKAGES_HEADING)

    # THEN its folders are exactly those packages, and every module it names exists
    assert all(e.startswith(prefix) for e in entries), entries
    listed = [e.removeprefix(prefix).rstrip("/") for e in entries if e.endswith("/")]
    assert len(listed) == len(set(listed)), f"listed twice: {listed}"
    assert set(listed) == packages, f"missing: {sorted(packages - set(listed))}; gone: {sorted(set(listed) - packages)}"
    modules = [e for e in entries if not e.endswith("/")]
    assert all(m in tracked for m in modules), f"not in the repository: {[m for m in modules if m not in tracked]}"


def test_no_tracked_file_points_outside_the_repository(tracked: list[str]) -> None:
    """Code comments, requirements and configs too: a clone of the project alone has no design
    folder beside it."""
    offenders = []
    for rel in tracked:
        if rel == Path(__file__).relative_to(ROOT).as_posix():
            continue  # this test names the pattern it looks for
        try:
            text = (ROOT / rel).read_text()
        except (UnicodeDecodeError, FileNotFoundError):
            continue  # binary, or deleted in the working tree
        offenders += [
            f"{rel}:{n}: {line.strip()}" for n, line in enumerate(text.splitlines(), 1) if OUTSIDE.search(line)
        ]
    assert not offenders, "links or paths to a folder beside the repository (the design lives in docs/):\n" + (
        "\n".join(offenders)
    )


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings: lower case, punctuation dropped, spaces to '-', -1, -2 on repeats."""
    anchors: set[str] = set()
    for line in FENCE.sub("", markdown).splitlines():
        match = re.match(r"#{1,6} (.+)", line)
        if not match:
            continue
        slug = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
        anchor, n = slug, 0
        while anchor in anchors:
            n += 1
            anchor = f"{slug}-{n}"
        anchors.add(anchor)
    return anchors


def relative_links(path: Path) -> list[str]:
    """Link targets in `path` outside code blocks, except URLs."""
    text = FENCE.sub("", path.read_text())
    return [t for t in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


def test_every_relative_link_in_readme_and_docs_resolves(markdown_files: list[Path]) -> None:
    # GIVEN README.md and every Markdown file under docs/
    docs = [p for p in markdown_files if p == README or p.relative_to(ROOT).parts[0] == "docs"]
    assert README in docs and len(docs) > 1

    broken = []
    for path in docs:
        for target in relative_links(path):
            # WHEN a link's file (and heading, if it names one) is looked up
            file_part, _, anchor = target.partition("#")
            dest = (path.parent / file_part).resolve() if file_part else path
            if not dest.exists():
                broken.append(f"{path.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in github_anchors(dest.read_text()):
                broken.append(f"{path.relative_to(ROOT)}: {target} (no such heading)")

    # THEN each one resolves inside the repository
    assert not broken, "broken links:\n" + "\n".join(broken)
