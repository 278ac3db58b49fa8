"""Upload limits: each file uploader refuses in the browser what the library would refuse anyway.

``st.file_uploader(max_upload_size=...)`` makes the browser refuse a file over the limit before
sending it, so it never reaches the server's memory; ``server.maxUploadSize`` in
``.streamlit/config.toml`` is the largest of these, the server's own cap (``tests/unit/test_config``
checks both). Streamlit counts a megabyte as 2**20 bytes (its upload route multiplies by 1024 * 1024).
"""

from __future__ import annotations

import math
from typing import Literal

from playground.bundle.core import MAX_CHECKPOINT_BYTES, MAX_JSON_BYTES
from playground.data.folder import MAX_UNCOMPRESSED_BYTES
from playground.data.text_csv import MAX_CSV_BYTES
from playground.modalities.audio.decode import MAX_AUDIO_BYTES
from playground.modalities.image.decode import MAX_UPLOAD_BYTES
from playground.modalities.text.clean import MAX_TEXT_FILE_BYTES

UploadKind = Literal["image", "audio", "text", "csv", "zip", "weights", "json"]

#: The library's limit for each kind of upload, in bytes.
UPLOAD_LIMIT_BYTES: dict[UploadKind, int] = {
    "image": MAX_UPLOAD_BYTES,
    "audio": MAX_AUDIO_BYTES,
    "text": MAX_TEXT_FILE_BYTES,
    "csv": MAX_CSV_BYTES,
    "zip": MAX_UNCOMPRESSED_BYTES,  # a zip is never larger than what it holds, give or take its headers
    "weights": MAX_CHECKPOINT_BYTES,
    "json": MAX_JSON_BYTES,
}


def upload_limit_mb(kind: UploadKind) -> int:
    """``kind``'s limit in Streamlit's megabytes (2**20 bytes), for ``st.file_uploader(max_upload_size=)``."""
    return math.ceil(UPLOAD_LIMIT_BYTES[kind] / 2**20)


#: The server's cap, ``server.maxUploadSize``: the largest per-kind limit.
MAX_UPLOAD_MB = max(upload_limit_mb(kind) for kind in UPLOAD_LIMIT_BYTES)
