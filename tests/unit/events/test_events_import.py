"""The event contract is pure: importing it pulls in no AWS SDK, and ua-parser only on first use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _modules_after(code: str) -> set[str]:
    # A fresh interpreter: this test process has long imported everything else.
    script = f"import sys\n{code}\nprint('\\n'.join(sys.modules))"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def test_importing_validate_imports_neither_boto3_nor_ua_parser() -> None:
    modules = _modules_after("import clickstream.events.validate, clickstream.events.badrow")

    assert "clickstream.events.validate" in modules
    assert not {m for m in modules if m.split(".")[0] in ("boto3", "botocore", "ua_parser")}


def test_ua_parser_is_imported_on_first_parse() -> None:
    modules = _modules_after("from clickstream.events.useragent import parse_user_agent\nparse_user_agent('curl/8')")

    assert "ua_parser" in modules
    assert "boto3" not in modules
