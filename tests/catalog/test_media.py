"""Media: HTTPS URLs only, uploads checked by content and size, one main image per owner, avatars."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest
from catalog_factories import create_product
from PIL import Image

from mercato.catalog import storage
from mercato.platform.security import encode_jwt


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (3, 2)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, format=fmt)
    return buf.getvalue()


def _upload(owner_type: str, owner_id: str, data: bytes, filename: str = "x.png", **fields: str):  # type: ignore[no-untyped-def]
    return {"data": {"owner_type": owner_type, "owner_id": owner_id, **fields},
            "files": {"file": (filename, data, "application/octet-stream")}}


async def test_url_images_must_be_https(client, tenant) -> None:
    p = await create_product(client, tenant)
    h = tenant.admin_headers
    for bad in ("http://cdn.example.com/a.jpg", "javascript:alert(1)", "ftp://cdn.example.com/a.jpg", "not a url"):
        r = await client.post("/api/v1/media", json={"owner_type": "product", "owner_id": p["id"], "url": bad}, headers=h)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.url", (bad, r.text)
    r = await client.post("/api/v1/media", json={"owner_type": "product", "owner_id": p["id"], "alt": "Front",
                                                 "url": "https://cdn.example.com/a.jpg"}, headers=h)
    assert r.status_code == 201 and r.json()["url"] == "https://cdn.example.com/a.jpg" and r.json()["alt"] == "Front"
    url_media = r.json()
    r = await client.post("/api/v1/media", json={"owner_type": "product", "owner_id": str(uuid.uuid4()),
                                                 "url": "https://cdn.example.com/a.jpg"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "owner_id"
    r = await client.post("/api/v1/media", json={"owner_type": "user", "owner_id": p["id"],
                                                 "url": "https://cdn.example.com/a.jpg"}, headers=h)
    assert r.status_code == 422
    # A URL image's /file redirects to it.
    r = await client.get(f"/api/v1/media/{url_media['id']}/file", headers=h)
    assert r.status_code == 307 and r.headers["location"] == "https://cdn.example.com/a.jpg"


async def test_upload_checked_by_content_and_served_back(client, tenant, settings) -> None:
    p = await create_product(client, tenant)
    h = tenant.admin_headers
    for fmt, content_type in (("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp"),
                              ("GIF", "image/gif")):
        data = image_bytes(fmt)
        # The filename lies: the type comes from the bytes.
        r = await client.post("/api/v1/media/upload", **_upload("product", p["id"], data, "photo.txt"), headers=h)
        assert r.status_code == 201, (fmt, r.text)
        m = r.json()
        assert (m["content_type"], m["width"], m["height"], m["size_bytes"]) == (content_type, 3, 2, len(data))
        assert m["url"] == f"/api/v1/media/{m['id']}/file"
        served = await client.get(m["url"], headers=tenant.storefront_headers)
        assert served.status_code == 200 and served.content == data
        assert served.headers["content-type"] == content_type and served.headers["x-content-type-options"] == "nosniff"
    files = list((Path(settings.data_dir) / "media" / str(tenant.id)).iterdir())
    assert len(files) == 4
    # A text file renamed .png, a BMP, an empty file: rejected with a clear problem.
    bmp = image_bytes("BMP")
    for data, name in ((b"hello, I am text", "evil.png"), (bmp, "x.bmp"), (b"", "empty.png")):
        r = await client.post("/api/v1/media/upload", **_upload("product", p["id"], data, name), headers=h)
        assert r.status_code == 422 and r.json()["code"] == "unsupported_image", r.text
        assert r.json()["errors"][0]["field"] == "file"
    # Missing file → 422 naming it.
    r = await client.post("/api/v1/media/upload", data={"owner_type": "product", "owner_id": p["id"]}, headers=h)
    assert r.status_code == 422 and "file" in r.json()["errors"][0]["field"]
    # Storefront keys cannot upload.
    r = await client.post("/api/v1/media/upload", **_upload("product", p["id"], image_bytes()),
                          headers=tenant.storefront_headers)
    assert r.status_code == 403


async def test_upload_size_limit(client, tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    p = await create_product(client, tenant)
    big = image_bytes("PNG", (64, 64))
    monkeypatch.setattr(storage, "MAX_IMAGE_BYTES", len(big) - 1)
    r = await client.post("/api/v1/media/upload", **_upload("product", p["id"], big), headers=tenant.admin_headers)
    assert r.status_code == 413 and r.json()["code"] == "image_too_large"
    monkeypatch.undo()
    assert storage.MAX_IMAGE_BYTES == 5 * 1024 * 1024
    r = await client.post("/api/v1/media/upload", **_upload("product", p["id"], big), headers=tenant.admin_headers)
    assert r.status_code == 201


async def test_exactly_one_main_image(client, tenant) -> None:
    p = await create_product(client, tenant)
    h = tenant.admin_headers

    async def add(**kw):  # type: ignore[no-untyped-def]
        r = await client.post("/api/v1/media", json={"owner_type": "product", "owner_id": p["id"],
                                                     "url": f"https://cdn.example.com/{uuid.uuid4()}.jpg", **kw},
                              headers=h)
        assert r.status_code == 201, r.text
        return r.json()

    first, second = await add(), await add()
    assert first["is_main"] and not second["is_main"] and second["position"] == first["position"] + 1
    third = await add(is_main=True)

    async def listing():  # type: ignore[no-untyped-def]
        r = await client.get("/api/v1/media", params={"owner_type": "product", "owner_id": p["id"]},
                             headers=tenant.storefront_headers)
        return r.json()["items"]

    items = await listing()
    assert [m["id"] for m in items if m["is_main"]] == [third["id"]] and items[0]["id"] == third["id"]
    r = await client.patch(f"/api/v1/media/{second['id']}", json={"is_main": True, "alt": "Side"}, headers=h)
    assert r.status_code == 200 and r.json()["is_main"] and r.json()["alt"] == "Side"
    assert [m["id"] for m in await listing() if m["is_main"]] == [second["id"]]
    assert (await client.delete(f"/api/v1/media/{second['id']}", headers=h)).status_code == 204
    items = await listing()
    assert len(items) == 2 and [m["id"] for m in items if m["is_main"]] == [first["id"]]
    detail = (await client.get(f"/api/v1/products/{p['id']}", headers=h)).json()
    assert detail["images"][0]["id"] == first["id"] and detail["images"][0]["is_main"]


async def test_user_avatar(client, tenant, settings) -> None:
    token = encode_jwt({"sub": str(tenant.owner_id), "tid": str(tenant.id), "typ": "access"},
                       settings.secret_key.get_secret_value(), 300)
    user = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/users/me/avatar", headers=user)).status_code == 404
    r = await client.put("/api/v1/users/me/avatar", files={"file": ("me.jpg", image_bytes("JPEG"), "image/jpeg")},
                         headers=user)
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["owner_type"] == "user" and first["owner_id"] == str(tenant.owner_id) and first["is_main"]
    got = (await client.get("/api/v1/users/me/avatar", headers=user)).json()
    assert got["id"] == first["id"]
    assert (await client.get(got["url"], headers=tenant.host_headers)).headers["content-type"] == "image/jpeg"
    r = await client.put("/api/v1/users/me/avatar", data={"url": "http://cdn.example.com/me.png"}, headers=user)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "url"
    r = await client.put("/api/v1/users/me/avatar", files={"file": ("me.png", b"plain text", "image/png")}, headers=user)
    assert r.status_code == 422 and r.json()["code"] == "unsupported_image"
    r = await client.put("/api/v1/users/me/avatar", data={"url": "https://cdn.example.com/me.png"}, headers=user)
    assert r.status_code == 200 and r.json()["url"] == "https://cdn.example.com/me.png"
    assert (await client.get("/api/v1/users/me/avatar", headers=user)).json()["id"] == r.json()["id"]
    # The old upload is gone (row and, after commit, the file).
    assert (await client.get(first["url"], headers=tenant.host_headers)).status_code == 404
    assert not (Path(settings.data_dir) / "media" / str(tenant.id) / f"{first['id']}.jpg").exists()
    # API keys have no profile.
    assert (await client.get("/api/v1/users/me/avatar", headers=tenant.admin_headers)).status_code == 403
    assert (await client.delete("/api/v1/users/me/avatar", headers=user)).status_code == 204
    assert (await client.get("/api/v1/users/me/avatar", headers=user)).status_code == 404
