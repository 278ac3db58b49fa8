"""The server's settings (.streamlit/config.toml) and the upload limits that go with them."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from streamlit import config as st_config

from ui.uploads import MAX_UPLOAD_MB, UPLOAD_LIMIT_BYTES, upload_limit_mb

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))


def test_the_production_settings_are_set_and_streamlit_knows_each_one() -> None:
    server, client = SETTINGS["server"], SETTINGS["client"]
    assert server["fileWatcherType"] == "none" and server["runOnSave"] is False
    assert server["enableXsrfProtection"] is True and server["enableCORS"] is True
    assert client["showErrorDetails"] == "none"  # no traceback reaches a user
    assert 0 < server["disconnectedSessionTTL"] <= 600
    assert SETTINGS["browser"]["gatherUsageStats"] is False
    assert SETTINGS["runner"]["postScriptGC"] is False  # a full GC after every rerun costs ~0.2 CPU-s
    options = st_config._config_options_template  # every option this Streamlit version has
    for section, values in SETTINGS.items():
        for name in values:
            assert f"{section}.{name}" in options, f"{section}.{name} is not a Streamlit option"


def test_the_upload_limit_is_the_largest_of_the_librarys_own() -> None:
    assert SETTINGS["server"]["maxUploadSize"] == MAX_UPLOAD_MB == 512
    assert upload_limit_mb("image") == 50 and upload_limit_mb("audio") == 200 and upload_limit_mb("text") == 5
    for kind, limit in UPLOAD_LIMIT_BYTES.items():
        assert upload_limit_mb(kind) * 2**20 >= limit > (upload_limit_mb(kind) - 1) * 2**20, kind


def test_every_file_uploader_passes_its_kinds_limit() -> None:
    """Each ``st.file_uploader`` call says ``max_upload_size=upload_limit_mb(<kind>)``: the browser refuses the rest."""
    calls = []
    for path in [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "ui").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "file_uploader":
                calls.append(path.name)
                limit = next((k.value for k in node.keywords if k.arg == "max_upload_size"), None)
                assert isinstance(limit, ast.Call) and getattr(limit.func, "id", None) == "upload_limit_mb", (
                    f"{path.name}:{node.lineno}: st.file_uploader without max_upload_size=upload_limit_mb(...)"
                )
                (kind,) = limit.args
                assert isinstance(kind, ast.Constant) and kind.value in UPLOAD_LIMIT_BYTES
    assert len(calls) >= 10, calls  # the scan found the uploaders
