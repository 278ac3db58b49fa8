"""The user's own images: one sub-folder per class, from a folder on disk or an uploaded .zip.

Expected layout (the one ``torchvision.datasets.ImageFolder`` reads)::

    my_data/                 <- ``path``, or the top of the zip
        cat/  a.jpg b.png ...
        dog/  c.jpg ...

The class folders may also sit one level down (a zip of the single folder ``my_data/``). Image
files are found by suffix (:data:`IMAGE_SUFFIXES`), also in sub-folders of a class folder; hidden
files and folders (``.DS_Store``, ``__MACOSX/``, ``.git/``) and other files are ignored. Every image
is decoded with :func:`playground.modalities.image.decode.decode_image` (EXIF orientation applied, transparency on
white), converted to RGB and squashed to ``image_size × image_size`` (aspect ratio not kept, like
``torchvision.transforms.Resize((S, S))``) with Pillow's antialiasing bicubic filter. Files that do
not decode are skipped and counted in ``info``.

Zip uploads are extracted into a fresh folder under ``root`` named by the archive's SHA-256, after
the whole archive is checked: members with absolute paths or ``..`` (zip slip), symlinks and
encrypted members refuse the archive, as do more than :data:`MAX_FILES` members or more than
:data:`MAX_UNCOMPRESSED_BYTES` declared (and, while reading, actual) uncompressed bytes.

Source: the class-folder convention of ``torchvision.datasets.ImageFolder``
(https://pytorch.org/vision/stable/generated/torchvision.datasets.ImageFolder.html); zip-slip:
https://security.snyk.io/research/zip-slip-vulnerability.
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image

from playground.data.base import ImageDataset, default_data_root, register_dataset
from playground.data.idx import reject_unknown_options
from playground.modalities.image.decode import ImageDecodeError, check_upload_size, decode_image

NAME = "folder"
SOURCE = "your images (one folder per class)"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm")
MAX_UNCOMPRESSED_BYTES = 512 * 1024**2  # sum of the members' uncompressed sizes, in bytes
MAX_FILES = 50_000  # zip members (files and folders)
MAX_DECODED_BYTES = 1024**3  # N × 3 × S × S uint8 held in memory (50,000 images at 64 px: 0.6 GiB)
MIN_SIZE, MAX_SIZE = 8, 512
_OPTIONS = ("path", "zip_bytes", "image_size")
_CHUNK = 1 << 20
_LAYOUT = (
    "expected one sub-folder per class with at least one image in each, and at least 2 classes, e.g. "
    "cats/1.jpg, cats/2.jpg, dogs/1.jpg (the class folders may sit inside one top folder)"
)


def is_hidden(name: str) -> bool:
    """A hidden file or folder (``.DS_Store``, ``.git``) or macOS's ``__MACOSX`` zip folder: never read."""
    return name.startswith(".") or name == "__MACOSX"


def has_suffix(name: str, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> bool:
    """Whether the file ``name`` is of the kind ``suffixes`` names (case-insensitive)."""
    return name.lower().endswith(suffixes)


# -- zip extraction ----------------------------------------------------------------------------


def check_archive_size(infos: list[zipfile.ZipInfo]) -> None:
    """Refuse an archive with more than :data:`MAX_FILES` members or :data:`MAX_UNCOMPRESSED_BYTES`
    declared uncompressed (checked before anything is extracted: a zip bomb stops here).

    Raises:
        ValueError: either limit exceeded; the message gives the number and the limit.
    """
    if len(infos) > MAX_FILES:
        raise ValueError(f"refusing the zip: it has {len(infos)} members; the limit is {MAX_FILES}")
    declared = sum(info.file_size for info in infos)
    if declared > MAX_UNCOMPRESSED_BYTES:
        raise ValueError(
            f"refusing the zip: it declares {declared / 2**20:.1f} MiB uncompressed; "
            f"the limit is {MAX_UNCOMPRESSED_BYTES / 2**20:.0f} MiB"
        )


def check_member(info: zipfile.ZipInfo) -> str:
    """Return the member's name with ``/`` separators, or raise if extracting it is unsafe."""
    name = info.filename.replace("\\", "/")  # zips made on Windows may use backslashes
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise ValueError(f"refusing the zip: member {info.filename!r} has an absolute path")
    if ".." in PurePosixPath(name).parts:
        raise ValueError(f"refusing the zip: member {info.filename!r} points outside the archive ('..')")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise ValueError(f"refusing the zip: member {info.filename!r} is a symbolic link")
    if info.flag_bits & 0x1:
        raise ValueError(f"refusing the zip: member {info.filename!r} is encrypted")
    return name


def extract_to(zf: zipfile.ZipFile, members: list[tuple[zipfile.ZipInfo, str]], target: Path) -> None:
    """Stream ``members`` into ``target``, re-checking every resolved path and the real sizes."""
    base = target.resolve()
    written = 0
    for info, name in members:
        out = (base / name).resolve()
        if not out.is_relative_to(base) or out == base:
            raise ValueError(f"refusing the zip: member {info.filename!r} resolves outside the target folder")
        out.parent.mkdir(parents=True, exist_ok=True)
        size = 0
        try:
            with zf.open(info) as src, out.open("wb") as dst:
                while chunk := src.read(_CHUNK):
                    size += len(chunk)
                    written += len(chunk)
                    if size > info.file_size or written > MAX_UNCOMPRESSED_BYTES:
                        raise ValueError(
                            f"refusing the zip: member {info.filename!r} holds more data than its header declares "
                            f"(limit {MAX_UNCOMPRESSED_BYTES} bytes uncompressed in all)"
                        )
                    dst.write(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as err:
            raise ValueError(f"not a valid zip: member {info.filename!r} cannot be read ({err})") from err


def extract_zip(zip_bytes: bytes, root: Path, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> Path:
    """Check an uploaded zip and extract its image (or other ``suffixes``) files under ``root / "uploads"``.

    The folder is named by the archive's SHA-256, so the same upload is extracted once. Nothing is
    written unless every member passes the checks; hidden files and files of other kinds are not
    extracted.

    Args:
        zip_bytes: the bytes of a .zip file.
        root: folder under which ``uploads/zip-<sha256[:16]>`` is created.
        suffixes: the file name endings extracted (lower case), e.g. ``(".wav", ".flac")``.

    Returns:
        The folder holding the extracted files.

    Raises:
        TypeError: ``zip_bytes`` is not bytes-like.
        ValueError: not a valid zip, or an unsafe / too large archive (the message says which member
            and why).
    """
    if not isinstance(zip_bytes, bytes | bytearray | memoryview):
        raise TypeError(f"expected the zip as bytes, got {type(zip_bytes).__name__}")
    data = bytes(zip_bytes)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zlib.error, EOFError) as err:
        raise ValueError(f"not a valid zip archive ({err})") from err
    with zf:
        infos = zf.infolist()
        check_archive_size(infos)
        members = []
        for info in infos:
            name = check_member(info)  # every member, so one bad entry refuses the archive
            parts = PurePosixPath(name).parts
            if info.is_dir() or not parts or any(is_hidden(p) for p in parts) or not has_suffix(parts[-1], suffixes):
                continue
            members.append((info, name))
        uploads = Path(root) / "uploads"
        dest = uploads / f"zip-{hashlib.sha256(data).hexdigest()[:16]}"
        if dest.is_dir():  # extracted before (renamed into place only when complete)
            return dest
        uploads.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=uploads))
        try:
            extract_to(zf, members, partial)
            try:
                partial.rename(dest)
            except OSError:
                if not dest.is_dir():
                    raise
                shutil.rmtree(partial)  # another session extracted the same archive first
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)  # cleanup only; the original error propagates
            raise
    return dest


# -- reading a class-folder tree ---------------------------------------------------------------


def class_folders_source(
    name: str,
    root: Path | None,
    path: str | Path | None,
    zip_bytes: bytes | None,
    suffixes: tuple[str, ...] = IMAGE_SUFFIXES,
) -> tuple[Path, str]:
    """The folder a class-folder loader reads, and how to name it in messages.

    Args:
        name: the loader's registry name (for messages and the default extraction folder).
        root: where a zip is extracted (default ``default_data_root() / name``).
        path, zip_bytes: exactly one: a folder on disk, or an uploaded zip's bytes
            (:func:`extract_zip` with ``suffixes``).

    Raises:
        ValueError: neither or both given, a path that is not a folder, or a bad or unsafe zip.
    """
    if zip_bytes is not None and path is None:
        return extract_zip(zip_bytes, Path(root) if root is not None else default_data_root() / name, suffixes), (
            "the uploaded zip"
        )
    if path is not None and zip_bytes is None:
        top = Path(path)
        if not top.is_dir():
            raise ValueError(f"{name}: expected a folder with one sub-folder per class, got {str(top)!r}")
        return top, str(top)
    raise ValueError(f"{name}: give exactly one of path= (a folder) or zip_bytes= (an uploaded .zip)")


def visible_children(folder: Path, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> tuple[list[Path], list[Path]]:
    """``(sub-folders, files of the kind)`` directly in ``folder``, hidden ones left out, sorted."""
    entries = sorted(p for p in folder.iterdir() if not is_hidden(p.name))
    return [p for p in entries if p.is_dir()], [p for p in entries if p.is_file() and has_suffix(p.name, suffixes)]


def find_class_root(folder: Path, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> Path:
    """The folder whose sub-folders are the classes: ``folder`` or its single sub-folder.

    A single visible sub-folder (and no files of the kind, ``suffixes``, beside it) that itself
    holds sub-folders is taken as a wrapper, as in a zip of one top folder.
    """
    subdirs, files = visible_children(folder, suffixes)
    if len(subdirs) == 1 and not files and visible_children(subdirs[0], suffixes)[0]:
        return subdirs[0]
    return folder


@functools.lru_cache(maxsize=2)
def _decode_all(
    samples: tuple[tuple[str, int], ...], class_root: str, image_size: int, fingerprint: str
) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    """Decode every sample; ``fingerprint`` (sizes and mtimes) keys the cache on the files' contents."""
    images = np.empty((len(samples), image_size, image_size, 3), dtype=np.uint8)  # (N, S, S, 3)
    targets = np.empty(len(samples), dtype=np.int64)
    skipped: list[str] = []
    n = 0
    for path, target in samples:
        rel = Path(path).relative_to(class_root).as_posix()
        try:
            check_upload_size(Path(path).stat().st_size, rel)  # before reading a huge file
            picture = decode_image(Path(path).read_bytes(), rel, downscale_to=max(4 * image_size, 256))
        except ImageDecodeError:
            skipped.append(rel)
            continue
        resized = picture.convert("RGB").resize((image_size, image_size), Image.Resampling.BICUBIC)
        images[n] = np.asarray(resized)
        targets[n] = target
        n += 1
    x = torch.from_numpy(images[:n]).permute(0, 3, 1, 2).contiguous()  # (N, S, S, 3) -> (N, 3, S, S)
    return x, torch.from_numpy(targets[:n]), tuple(skipped)


def _check_image_size(image_size: object) -> int:
    if isinstance(image_size, bool) or not isinstance(image_size, int):
        raise TypeError(f"{NAME}: image_size must be an int, got {type(image_size).__name__}")
    if not MIN_SIZE <= image_size <= MAX_SIZE:
        raise ValueError(f"{NAME}: image_size must be in [{MIN_SIZE}, {MAX_SIZE}], got {image_size}")
    return image_size


@register_dataset(
    NAME,
    modality="image",
    num_classes=None,
    description="Your own images: a folder (or .zip) with one sub-folder per class, resized to a square.",
    source=SOURCE,
    offline=lambda: True,
    channels=3,
    image_size=None,
)
def folder(
    root: Path | None = None,
    *,
    path: str | Path | None = None,
    zip_bytes: bytes | None = None,
    image_size: int = 64,
    **unknown: object,
) -> ImageDataset:
    """Load class-named folders of images, from ``path`` or from the bytes of a .zip.

    Args:
        root: where zip uploads are extracted (``root/uploads/zip-<sha256[:16]>``);
            default ``default_data_root() / "folder"``.
        path: a folder holding one sub-folder per class (or one folder that holds them).
        zip_bytes: the bytes of a .zip with the same layout; give ``path`` or ``zip_bytes``, not both.
        image_size: side ``S`` in pixels every image is resized to, in ``[8, 512]``.

    Returns:
        ``images (N, 3, S, S)`` uint8 in [0, 255], ``targets (N,)`` int64; ``classes`` are the folder
        names, sorted. ``info["skipped"]`` lists up to 10 files that did not decode and
        ``info["n_skipped"]`` counts them; ``info["ignored_folders"]`` names folders without images.

    Raises:
        ValueError: unknown options, neither or both of ``path`` / ``zip_bytes``, a bad or unsafe zip,
            fewer than 2 classes with images, a class whose images all fail to decode, or too many
            pixels to hold in memory.
        TypeError: ``zip_bytes`` not bytes or ``image_size`` not an int.
    """
    reject_unknown_options(NAME, unknown, _OPTIONS)
    size = _check_image_size(image_size)
    top, where = class_folders_source(NAME, root, path, zip_bytes)

    class_root = find_class_root(top)
    class_dirs, _ = visible_children(class_root)

    def is_valid_file(file: str) -> bool:
        parts = Path(file).relative_to(class_root).parts
        return has_suffix(parts[-1]) and not any(is_hidden(p) for p in parts)

    if not class_dirs:
        raise ValueError(f"{NAME}: found no class folders in {where}; {_LAYOUT}")
    # torchvision's ImageFolder walk (sorted, recursive inside each class folder); empty ones are dropped below.
    from torchvision.datasets.folder import make_dataset  # imported when used: ~1 s (see idx.torchvision_dataset)

    found = make_dataset(
        str(class_root),
        {d.name: i for i, d in enumerate(class_dirs)},
        is_valid_file=is_valid_file,
        allow_empty=True,
    )
    counts = np.bincount([t for _, t in found], minlength=len(class_dirs))
    classes = [d.name for d, c in zip(class_dirs, counts, strict=True) if c > 0]
    ignored = [d.name for d, c in zip(class_dirs, counts, strict=True) if c == 0]
    if len(classes) < 2:
        raise ValueError(f"{NAME}: found {len(classes)} class folder(s) with images ({classes}) in {where}; {_LAYOUT}")
    remap = np.cumsum(counts > 0) - 1  # old class index -> index among the kept classes
    samples = tuple((p, int(remap[t])) for p, t in found)
    if len(samples) * 3 * size * size > MAX_DECODED_BYTES:
        raise ValueError(
            f"{NAME}: {len(samples)} images at {size}×{size} need more than {MAX_DECODED_BYTES / 2**30:.0f} GiB; "
            "choose a smaller image_size or fewer images"
        )
    stats = [f"{p}|{(s := Path(p).stat()).st_size}|{s.st_mtime_ns}" for p, _ in samples]
    fingerprint = hashlib.sha256("\n".join(stats).encode()).hexdigest()
    images, targets, skipped = _decode_all(samples, str(class_root), size, fingerprint)

    per_class = torch.bincount(targets, minlength=len(classes)).tolist()
    empty = [c for c, k in zip(classes, per_class, strict=True) if k == 0]
    if empty:
        raise ValueError(
            f"{NAME}: no image in class folder(s) {empty} could be decoded (skipped: {list(skipped[:10])}); {_LAYOUT}"
        )
    return ImageDataset(
        name=NAME,
        images=images.clone(),
        targets=targets.clone(),
        classes=classes,
        source=SOURCE,
        info={
            "copy": where,
            "folder": str(class_root),
            "skipped": list(skipped[:10]),
            "n_skipped": len(skipped),
            "ignored_folders": ignored,
            "image_size": size,
            "resize": f"RGB, squashed to {size}×{size} (bicubic, antialiased)",
        },
    )
