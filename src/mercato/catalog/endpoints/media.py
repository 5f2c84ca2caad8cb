"""Images: by HTTPS URL or multipart upload (checked by content), galleries with one main image,
files served with their content type, and the signed-in user's avatar."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile, status
from fastapi.responses import RedirectResponse
from pydantic import TypeAdapter, ValidationError

from mercato.catalog.auth import CatalogReader, CatalogWriter
from mercato.catalog.errors import MediaNotFound
from mercato.catalog.schemas import HttpsUrl, Media, MediaFromUrl, MediaList, MediaOwnerType, MediaUpdate
from mercato.catalog.service import media as media_service
from mercato.catalog.service.reads import media_out
from mercato.catalog.storage import MAX_IMAGE_BYTES, ImageInfo, Storage, get_storage, inspect_image
from mercato.platform.auth import require
from mercato.platform.db import SessionDep
from mercato.platform.errors import Forbidden, ValidationFailed, problem_schema_responses
from mercato.platform.security import Permission, Principal

router = APIRouter(tags=["catalog"])
ProfileOwner = Annotated[Principal, require(Permission.PROFILE)]
_https = TypeAdapter(HttpsUrl)


def _storage(request: Request) -> Storage:
    return getattr(request.app.state, "media_storage", None) or get_storage(request.app.state.settings)


async def _read_image(file: UploadFile) -> tuple[bytes, ImageInfo]:
    data = await file.read(MAX_IMAGE_BYTES + 1)
    return data, inspect_image(data)


@router.post("/media", status_code=status.HTTP_201_CREATED, response_model=Media,
             summary="Add an image by HTTPS URL", responses=problem_schema_responses(401, 403, 422))
async def add_media_url(data: MediaFromUrl, request: Request, session: SessionDep, _: CatalogWriter) -> Media:
    m = await media_service.add_media(session, _storage(request), owner_type=data.owner_type, owner_id=data.owner_id,
                                      url=str(data.url), alt=data.alt, position=data.position, is_main=data.is_main)
    return media_out(m)


@router.post("/media/upload", status_code=status.HTTP_201_CREATED, response_model=Media,
             summary="Upload an image (multipart; JPEG, PNG, WebP or GIF, at most 5 MB)",
             responses=problem_schema_responses(401, 403, 413, 422))
async def upload_media(
    request: Request, session: SessionDep, _: CatalogWriter,
    owner_type: Annotated[MediaOwnerType, Form()], owner_id: Annotated[uuid.UUID, Form()],
    file: Annotated[UploadFile, File(description="The image; its type is read from its content")],
    alt: Annotated[str | None, Form(max_length=500)] = None,
    position: Annotated[int | None, Form(ge=0, le=100_000)] = None,
    is_main: Annotated[bool, Form()] = False,
) -> Media:
    data, info = await _read_image(file)
    m = await media_service.add_media(session, _storage(request), owner_type=owner_type, owner_id=owner_id,
                                      data=data, image=info, alt=alt, position=position, is_main=is_main)
    return media_out(m)


@router.get("/media", response_model=MediaList, summary="List an owner's images, main first",
            responses=problem_schema_responses(400, 422))
async def list_media(session: SessionDep, _: CatalogReader, owner_type: Annotated[MediaOwnerType, Query()],
                     owner_id: Annotated[uuid.UUID, Query()]) -> MediaList:
    return MediaList(items=[media_out(m) for m in await media_service.list_media(session, owner_type, owner_id)])


@router.get("/media/{media_id}", response_model=Media, summary="Get an image's metadata",
            responses=problem_schema_responses(400, 404, 422))
async def get_media(media_id: uuid.UUID, session: SessionDep, _: CatalogReader) -> Media:
    return media_out(await media_service.get_media(session, media_id))


@router.get("/media/{media_id}/file", summary="The image file (uploads), or a redirect to its URL",
            response_class=Response, responses={200: {"content": {"image/*": {}}},
                                                **problem_schema_responses(400, 404, 422)})
async def get_media_file(media_id: uuid.UUID, request: Request, session: SessionDep, _: CatalogReader) -> Response:
    m = await media_service.get_media(session, media_id)
    if m.storage_key is None:
        return RedirectResponse(m.url or "/", status_code=status.HTTP_307_TEMPORARY_REDIRECT)
    storage = _storage(request)
    public = getattr(storage, "public_url", None)
    direct = public(m.storage_key) if public is not None else None
    if direct:  # S3 behind a public base URL / CDN: let it serve the bytes
        return RedirectResponse(direct, status_code=status.HTTP_307_TEMPORARY_REDIRECT,
                                headers={"Cache-Control": "public, max-age=86400"})
    data = await storage.get(m.storage_key)
    if data is None:
        raise MediaNotFound("the image file is missing")
    return Response(data, media_type=m.content_type or "application/octet-stream", headers={
        "Cache-Control": "public, max-age=31536000, immutable",  # a media id never changes content
        "X-Content-Type-Options": "nosniff", "Content-Disposition": "inline"})


@router.patch("/media/{media_id}", response_model=Media, summary="Change alt text, position, or make it the main image",
              responses=problem_schema_responses(401, 403, 404, 422))
async def update_media(media_id: uuid.UUID, data: MediaUpdate, session: SessionDep, _: CatalogWriter) -> Media:
    return media_out(await media_service.update_media(session, media_id, data.model_dump(exclude_unset=True)))


@router.delete("/media/{media_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete an image",
               responses=problem_schema_responses(401, 403, 404))
async def delete_media(media_id: uuid.UUID, request: Request, session: SessionDep, _: CatalogWriter) -> Response:
    await media_service.delete_media(session, _storage(request), media_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --------------------------------------------------------------------------- the user's avatar


def _user_id(principal: Principal) -> uuid.UUID:
    if principal.user_id is None:
        raise Forbidden("only a signed-in user has a profile image")
    return principal.user_id


@router.put("/users/me/avatar", response_model=Media, tags=["users"],
            summary="Set your profile image: upload `file`, or give an HTTPS `url` (multipart form)",
            responses=problem_schema_responses(401, 403, 413, 422))
async def set_avatar(
    request: Request, session: SessionDep, principal: ProfileOwner,
    file: Annotated[UploadFile | None, File(description="JPEG, PNG, WebP or GIF, at most 5 MB")] = None,
    url: Annotated[str | None, Form(max_length=2048)] = None,
    alt: Annotated[str | None, Form(max_length=500)] = None,
) -> Media:
    user_id = _user_id(principal)
    storage = _storage(request)
    if (file is None) == (url is None):
        raise ValidationFailed("give either a file or a url", field="file")
    if file is not None:
        data, info = await _read_image(file)
        m = await media_service.set_avatar(session, storage, user_id, data=data, image=info, alt=alt)
    else:
        try:
            checked = str(_https.validate_python(url))
        except ValidationError as exc:
            raise ValidationFailed("url must be an https:// URL", field="url") from exc
        m = await media_service.set_avatar(session, storage, user_id, url=checked, alt=alt)
    return media_out(m)


@router.get("/users/me/avatar", response_model=Media, tags=["users"], summary="Your profile image",
            responses=problem_schema_responses(401, 403, 404))
async def get_avatar(session: SessionDep, principal: ProfileOwner) -> Media:
    m = await media_service.get_avatar(session, _user_id(principal))
    if m is None:
        raise MediaNotFound("no profile image")
    return media_out(m)


@router.delete("/users/me/avatar", status_code=status.HTTP_204_NO_CONTENT, tags=["users"],
               summary="Remove your profile image", responses=problem_schema_responses(401, 403, 404))
async def delete_avatar(request: Request, session: SessionDep, principal: ProfileOwner) -> Response:
    m = await media_service.get_avatar(session, _user_id(principal))
    if m is None:
        raise MediaNotFound("no profile image")
    await media_service.delete_media(session, _storage(request), m.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


