"""Where uploaded images live, and how an upload is checked.

:class:`Storage` is the seam: :class:`LocalStorage` writes under ``<MERCATO_DATA_DIR>/media/<tenant>/``
(the default; fine for one host or a shared volume). :class:`S3Storage` keeps them in an
S3-compatible bucket (AWS S3, MinIO, R2, …) when ``MERCATO_S3_BUCKET`` is set; boto3's blocking
calls run in threads (``asyncio.to_thread``). Either way the API serves an upload through
``GET /media/{id}/file`` with the content type recorded at upload time (docs/catalog.md), or, with
``MERCATO_S3_PUBLIC_BASE_URL``, redirects there (a CDN or public bucket in front of the objects).
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from PIL import Image, UnidentifiedImageError

from mercato.catalog.errors import ImageTooLarge, UnsupportedImage
from mercato.settings import Settings

log = logging.getLogger("mercato.catalog.storage")

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


class S3Storage:
    """Objects in an S3-compatible bucket, under ``<prefix><tenant>/<media id>.<ext>``.

    One boto3 client per storage (clients are thread-safe); every call runs in a worker thread.
    Objects are written with their ``Content-Type`` and an immutable cache header, so a public
    bucket or CDN (``public_base_url``) serves them like the API does. The secret key is kept in
    the client only: never in ``repr``, never logged.
    """

    def __init__(self, *, bucket: str, endpoint_url: str | None = None, region: str | None = None,
                 access_key_id: str | None = None, secret_access_key: str | None = None, prefix: str = "",
                 public_base_url: str | None = None, client: Any = None) -> None:
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.prefix = prefix
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        if client is None:
            import boto3  # only when S3 is configured
            from botocore.config import Config

            client = boto3.client(
                "s3", endpoint_url=endpoint_url, region_name=region, aws_access_key_id=access_key_id,
                aws_secret_access_key=secret_access_key,
                config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"},
                              s3={"addressing_style": "path" if endpoint_url else "auto"}))
        self._client = client
        self._pending: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"S3Storage(bucket={self.bucket!r}, endpoint_url={self.endpoint_url!r}, prefix={self.prefix!r})"

    def _key(self, key: str) -> str:
        if key.startswith("/") or ".." in key.split("/"):
            raise ValueError("storage key escapes the media root")
        return self.prefix + key

    def public_url(self, key: str) -> str | None:
        """Where clients may fetch the object directly (None: serve it through the API)."""
        return f"{self.public_base_url}/{self._key(key)}" if self.public_base_url else None

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._client.put_object, Bucket=self.bucket, Key=self._key(key), Body=data,
                                ContentType=content_type, CacheControl="public, max-age=31536000, immutable")

    def _get(self, key: str) -> bytes | None:
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=self._key(key))
        except self._client.exceptions.NoSuchKey:
            return None
        body = response["Body"]
        try:
            return bytes(body.read())
        finally:
            body.close()

    async def get(self, key: str) -> bytes | None:
        return await asyncio.to_thread(self._get, key)

    def _delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=self._key(key))  # idempotent: no error if absent

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._delete, key)

    def delete_now(self, key: str) -> None:
        """From a commit hook: inside the event loop, delete in a worker thread (a network call must
        not block the loop); a failure is logged — the row is gone, the orphan object is harmless."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._delete(key)
            return
        task = loop.create_task(self._delete_logged(key))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _delete_logged(self, key: str) -> None:
        try:
            await self.delete(key)
        except Exception:
            log.warning("could not delete media object", extra={"bucket": self.bucket, "key": key}, exc_info=True)

    async def drain(self) -> None:
        """Wait for deletions scheduled by :meth:`delete_now` (shutdown, tests)."""
        while self._pending:
            await asyncio.gather(*list(self._pending))


_storages: dict[Any, Storage] = {}


def get_storage(settings: Settings) -> Storage:
    """The configured storage: S3 when ``MERCATO_S3_BUCKET`` is set, else the local filesystem."""
    if settings.s3_bucket:
        s3_key = ("s3", settings.s3_bucket, settings.s3_endpoint_url, settings.s3_region, settings.s3_access_key_id,
                  settings.s3_prefix, settings.s3_public_base_url)
        if s3_key not in _storages:
            secret = settings.s3_secret_access_key
            _storages[s3_key] = S3Storage(
                bucket=settings.s3_bucket, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region,
                access_key_id=settings.s3_access_key_id,
                secret_access_key=secret.get_secret_value() if secret is not None else None,
                prefix=settings.s3_prefix, public_base_url=settings.s3_public_base_url)
        return _storages[s3_key]
    root = Path(settings.data_dir) / "media"
    if root not in _storages:
        _storages[root] = LocalStorage(root)
    return _storages[root]
