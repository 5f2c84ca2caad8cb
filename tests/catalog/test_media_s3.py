"""Media uploads on S3-compatible storage.

The S3 server here is moto's server mode on loopback: a stand-in for the third party (AWS S3,
MinIO, R2…) we cannot run in this environment. boto3 talks real S3 HTTP to it, so signing,
content types, missing keys and deletes go over the wire as they would in production.
"""

from __future__ import annotations

import asyncio
import io
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from catalog_factories import create_product
from PIL import Image

from mercato.catalog.storage import LocalStorage, S3Storage, get_storage
from mercato.settings import Settings

KEY_ID, SECRET = "AKIAMERCATOTEST", "s3cr3t-never-logged-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def bucket(s3_endpoint: str) -> tuple[Any, str]:
    """A fresh bucket and an independent client to look into it."""
    name = f"mercato-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id=KEY_ID,
                          aws_secret_access_key=SECRET)
    client.create_bucket(Bucket=name)
    return client, name


@pytest.fixture
def s3_storage(app, s3_endpoint: str, bucket: tuple[Any, str]) -> Iterator[S3Storage]:  # type: ignore[no-untyped-def]
    settings = Settings(s3_bucket=bucket[1], s3_endpoint_url=s3_endpoint, s3_region="us-east-1",
                        s3_access_key_id=KEY_ID, s3_secret_access_key=SECRET, s3_prefix="media/")
    storage = get_storage(settings)
    assert isinstance(storage, S3Storage)
    previous = getattr(app.state, "media_storage", None)
    app.state.media_storage = storage
    try:
        yield storage
    finally:
        app.state.media_storage = previous


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 3), (10, 120, 200)).save(buf, format="PNG")
    return buf.getvalue()


def _objects(client: Any, name: str) -> dict[str, str]:
    listed = client.list_objects_v2(Bucket=name).get("Contents", [])
    return {o["Key"]: client.head_object(Bucket=name, Key=o["Key"])["ContentType"] for o in listed}


async def test_upload_lands_in_the_bucket_is_served_back_and_deleted(client, tenant, s3_storage, bucket) -> None:
    s3, name = bucket
    p = await create_product(client, tenant)
    data = _png()
    r = await client.post("/api/v1/media/upload", data={"owner_type": "product", "owner_id": p["id"]},
                          files={"file": ("photo.jpg", data, "application/octet-stream")},
                          headers=tenant.admin_headers)
    assert r.status_code == 201, r.text
    m = r.json()
    key = f"media/{tenant.id}/{m['id']}.png"
    assert await asyncio.to_thread(_objects, s3, name) == {key: "image/png"}
    assert s3.get_object(Bucket=name, Key=key)["Body"].read() == data

    served = await client.get(m["url"], headers=tenant.storefront_headers)
    assert served.status_code == 200 and served.content == data
    assert served.headers["content-type"] == "image/png" and served.headers["x-content-type-options"] == "nosniff"

    r = await client.delete(f"/api/v1/media/{m['id']}", headers=tenant.admin_headers)
    assert r.status_code == 204
    await asyncio.wait_for(s3_storage.drain(), timeout=30)
    assert await asyncio.to_thread(_objects, s3, name) == {}
    assert (await client.get(m["url"], headers=tenant.storefront_headers)).status_code == 404


async def test_missing_object_is_a_404_and_public_base_url_redirects(client, tenant, s3_storage, bucket) -> None:
    s3, name = bucket
    p = await create_product(client, tenant)
    r = await client.post("/api/v1/media/upload", data={"owner_type": "product", "owner_id": p["id"]},
                          files={"file": ("a.png", _png(), "image/png")}, headers=tenant.admin_headers)
    m = r.json()
    key = f"media/{tenant.id}/{m['id']}.png"
    s3.delete_object(Bucket=name, Key=key)  # lost behind our back
    r = await client.get(m["url"], headers=tenant.storefront_headers)
    assert r.status_code == 404 and r.json()["code"] == "media_not_found", r.text

    s3_storage.public_base_url = "https://cdn.example.com/shop"
    try:
        r = await client.get(m["url"], headers=tenant.storefront_headers)
        assert r.status_code == 307 and r.headers["location"] == f"https://cdn.example.com/shop/{key}"
    finally:
        s3_storage.public_base_url = None


async def test_storage_choice_and_secret_kept_out_of_sight(s3_endpoint, bucket, tmp_path) -> None:
    assert isinstance(get_storage(Settings(data_dir=tmp_path)), LocalStorage)
    s3 = get_storage(Settings(s3_bucket=bucket[1], s3_endpoint_url=s3_endpoint, s3_region="us-east-1",
                              s3_access_key_id=KEY_ID, s3_secret_access_key=SECRET))
    assert isinstance(s3, S3Storage) and SECRET not in repr(s3)
    assert SECRET not in repr(Settings(s3_secret_access_key=SECRET))
    with pytest.raises(ValueError, match="escapes"):
        await s3.put("../other-tenant/x.png", b"x", "image/png")
    assert await s3.get(f"{uuid.uuid4()}/nothing.png") is None
    await s3.put("t/x.png", b"png", "image/png")
    assert await s3.get("t/x.png") == b"png"
    s3.delete_now("t/x.png")  # (a commit hook) inside the running loop: done in a worker thread
    await asyncio.wait_for(s3.drain(), timeout=30)
    assert await s3.get("t/x.png") is None
    await s3.delete("t/x.png")  # deleting what is gone is fine
