"""Images of products, variants, brands, categories and users (avatars).

Each owner has a gallery ordered by ``position`` and exactly one main image whenever it has any
(the first image becomes main; deleting the main promotes the next). Writes to one owner's images
serialize on an advisory lock so "exactly one main" holds under concurrency (a partial unique
index is the backstop)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.catalog import repository
from mercato.catalog.domain import Problem
from mercato.catalog.errors import MediaNotFound
from mercato.catalog.models import Brand, Category, Media, Product, Variant
from mercato.catalog.service.common import raise_problems, record, snapshot
from mercato.catalog.storage import ImageInfo, Storage, storage_key

OWNER_MODELS: dict[str, Any] = {"product": Product, "variant": Variant, "brand": Brand, "category": Category}
FIELDS = ("owner_type", "owner_id", "url", "storage_key", "content_type", "alt", "position", "is_main")


async def _check_owner(session: AsyncSession, owner_type: str, owner_id: uuid.UUID) -> None:
    if owner_type == "user":
        return  # the caller is the user (identity owns users; we store only the id)
    row = await repository.get(session, OWNER_MODELS[owner_type], owner_id)
    if row is None or row.deleted_at is not None:
        raise_problems([Problem("owner_id", "unknown_owner", f"no {owner_type} {owner_id}")])


def _delete_file_after_commit(session: AsyncSession, storage: Storage, key: str) -> None:
    """Remove a file only once the row that pointed at it is gone for good (nothing on rollback)."""
    event.listen(session.sync_session, "after_commit", lambda _s: storage.delete_now(key), once=True)


async def add_media(session: AsyncSession, storage: Storage, *, owner_type: str, owner_id: uuid.UUID,
                    url: str | None = None, data: bytes | None = None, image: ImageInfo | None = None,
                    alt: str | None = None, position: int | None = None, is_main: bool = False) -> Media:
    await _check_owner(session, owner_type, owner_id)
    await repository.lock(session, f"media:{owner_type}:{owner_id}")
    count, next_position = await repository.next_media_position(session, owner_type, owner_id)
    main = is_main or count == 0
    if main and count:
        await repository.clear_main(session, owner_type, owner_id)
    media = Media(id=uuid.uuid4(), tenant_id=repository.tenant_of(session), owner_type=owner_type, owner_id=owner_id,
                  url=url, alt=alt, position=next_position if position is None else position, is_main=main)
    if image is not None and data is not None:
        media.storage_key = storage_key(media.tenant_id, media.id, image.extension)
        media.content_type, media.size_bytes = image.content_type, image.size_bytes
        media.width, media.height = image.width, image.height
    session.add(media)
    await session.flush()
    if media.storage_key and data is not None:
        await storage.put(media.storage_key, data, media.content_type or "application/octet-stream")
    await record(session, "media.created", aggregate_type="media", aggregate_id=media.id,
                 data={"owner_type": owner_type, "owner_id": owner_id, "is_main": main},
                 changes={k: {"from": None, "to": v} for k, v in snapshot(media, FIELDS).items() if v is not None})
    return media


async def get_media(session: AsyncSession, media_id: uuid.UUID) -> Media:
    media = await repository.get(session, Media, media_id, fresh=True)
    if media is None:
        raise MediaNotFound()
    return media


async def update_media(session: AsyncSession, media_id: uuid.UUID, changes: dict[str, Any]) -> Media:
    media = await get_media(session, media_id)
    await repository.lock(session, f"media:{media.owner_type}:{media.owner_id}")
    before = snapshot(media, FIELDS)
    if changes.pop("is_main", None) and not media.is_main:
        await repository.clear_main(session, media.owner_type, media.owner_id)
        media.is_main = True
    for k, v in changes.items():
        setattr(media, k, v)
    await session.flush()
    diff = {k: {"from": before[k], "to": v} for k, v in snapshot(media, FIELDS).items() if before[k] != v}
    if diff:
        await record(session, "media.updated", aggregate_type="media", aggregate_id=media.id,
                     data={"owner_type": media.owner_type, "owner_id": media.owner_id, "changed": sorted(diff)},
                     changes=diff)
    return media


async def delete_media(session: AsyncSession, storage: Storage, media_id: uuid.UUID) -> None:
    media = await get_media(session, media_id)
    await repository.lock(session, f"media:{media.owner_type}:{media.owner_id}")
    await session.delete(media)
    await session.flush()
    if media.is_main:
        successor = await repository.first_media(session, media.owner_type, media.owner_id)
        if successor is not None:
            successor.is_main = True
            await session.flush()
    if media.storage_key:
        _delete_file_after_commit(session, storage, media.storage_key)
    await record(session, "media.deleted", aggregate_type="media", aggregate_id=media.id,
                 data={"owner_type": media.owner_type, "owner_id": media.owner_id},
                 changes={k: {"from": v, "to": None} for k, v in snapshot(media, FIELDS).items() if v is not None})


async def list_media(session: AsyncSession, owner_type: str, owner_id: uuid.UUID) -> list[Media]:
    return await repository.media_of(session, [(owner_type, [owner_id])])


async def set_avatar(session: AsyncSession, storage: Storage, user_id: uuid.UUID, *, url: str | None = None,
                     data: bytes | None = None, image: ImageInfo | None = None, alt: str | None = None) -> Media:
    """Replace the user's profile image (a media row owned by ``("user", user_id)``)."""
    await repository.lock(session, f"media:user:{user_id}")
    for old in await list_media(session, "user", user_id):
        await delete_media(session, storage, old.id)
    return await add_media(session, storage, owner_type="user", owner_id=user_id, url=url, data=data, image=image,
                           alt=alt, is_main=True)


async def get_avatar(session: AsyncSession, user_id: uuid.UUID) -> Media | None:
    rows = await list_media(session, "user", user_id)
    return next((m for m in rows if m.is_main), rows[0] if rows else None)
