"""Where uploaded images live, and how an upload is checked.

:class:`Storage` is the seam: :class:`LocalStorage` writes under ``<MERCATO_DATA_DIR>/media/<tenant>/``
(the default; fine for one host or a shared volume). An S3-compatible implementation (bucket,
endpoint, keys) plugs in behind the same four methods; it is not written yet.
"""

from __future__ import annotations

import asyncio
import io
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from PIL import Image, UnidentifiedImageError

from mercato.catalog.errors import ImageTooLarge, UnsupportedImage
from mercato.settings import Settings

#: Largest accepted image upload, in bytes (5 MB). Also bounded by MERCATO_MAX_BODY_BYTES, which
#: rejects any larger request body before it reaches the route.
MAX_IMAGE_BYTES = 5 * 1024 * 1024
#: Largest accepted image, in pixels (decompression-bomb guard).
MAX_IMAGE_PIXELS = 40_000_000

#: Pillow format → (content type, file extension). The type comes from the bytes, never the filename.
IMAGE_FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp"),
    "GIF": ("image/gif", "gif"),
}


@dataclass(frozen=True)
class ImageInfo:
    content_type: str
    extension: str
    width: int
    height: int
    size_bytes: int


def inspect_image(data: bytes) -> ImageInfo:
    """Identify an image by its content; reject anything but JPEG/PNG/WebP/GIF, or too large."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageTooLarge(f"images may be at most {MAX_IMAGE_BYTES} bytes", field="file", limit=MAX_IMAGE_BYTES)
    if not data:
        raise UnsupportedImage("the file is empty", field="file")
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format or ""
            width, height = img.size
            if fmt not in IMAGE_FORMATS:
                raise UnsupportedImage(f"{fmt or 'unknown'} images are not accepted", field="file")
            if width * height > MAX_IMAGE_PIXELS:
                raise UnsupportedImage(f"images may have at most {MAX_IMAGE_PIXELS} pixels", field="file")
            img.verify()
    except UnsupportedImage:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise UnsupportedImage(field="file") from exc
    content_type, ext = IMAGE_FORMATS[fmt]
    return ImageInfo(content_type, ext, width, height, len(data))


class Storage(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes | None: ...

    async def delete(self, key: str) -> None: ...

    def delete_now(self, key: str) -> None:
        """Synchronous delete, used from a commit hook."""
        ...


def storage_key(tenant_id: uuid.UUID, media_id: uuid.UUID, extension: str) -> str:
    return f"{tenant_id}/{media_id}.{extension}"


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError("storage key escapes the media root")
        return path

    def _write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # readers never see half a file

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._write, key, data)

    async def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    def delete_now(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.delete_now, key)


_storages: dict[Path, LocalStorage] = {}


def get_storage(settings: Settings) -> Storage:
    """The configured storage (local filesystem until an S3 implementation exists)."""
    root = Path(settings.data_dir) / "media"
    if root not in _storages:
        _storages[root] = LocalStorage(root)
    return _storages[root]
