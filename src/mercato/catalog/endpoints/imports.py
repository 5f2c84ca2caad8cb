"""``POST /products/import`` (CSV, inline or as a background job) and ``GET /products/export`` (CSV stream)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse

from mercato.catalog.importer import ImportFailed, ImportReport, export_products, import_products, read_csv
from mercato.platform.auth import PrincipalDep, require
from mercato.platform.db import SessionDep
from mercato.platform.errors import problem_schema_responses
from mercato.platform.jobs import JobContext, JobFailed, get_runner
from mercato.platform.security import Permission

router = APIRouter(tags=["catalog"])

#: Files with fewer data rows are imported within the request; larger ones become a job (202).
INLINE_ROW_LIMIT = 1000

CatalogWrite = require(Permission.CATALOG_WRITE)


@router.post("/products/import", dependencies=[CatalogWrite], response_model=ImportReport,
             responses={202: {"description": "Large file: import runs as a job; poll GET /api/v1/jobs/{job_id}"},
                        **problem_schema_responses(400, 401, 403, 409, 413, 422)})
async def import_csv(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    file: Annotated[UploadFile, File(description="CSV, UTF-8, one row per variant (see docs/search.md)")],
    mode: Annotated[Literal["all_or_nothing", "partial"], Query(
        description="all_or_nothing: any invalid row → nothing written; partial: import valid products")]
        = "all_or_nothing",
) -> Any:
    """Create or update products and variants from a CSV file (grouped by handle, matched by SKU)."""
    rows = read_csv(await file.read())
    actor = principal.actor_id
    if len(rows) < INLINE_ROW_LIMIT:
        report = await import_products(session, rows, mode=mode, actor_id=actor)
        if report.errors and mode == "all_or_nothing":
            raise ImportFailed(f"{len(report.errors)} error(s) in {report.rows} row(s); nothing was imported",
                               errors=[e.model_dump() for e in report.errors], report=report.model_dump())
        return report

    async def job(ctx: JobContext) -> dict[str, Any]:
        async with ctx.db.tenant_transaction(ctx.tenant_id) as s:
            async def progress(done: int, total: int) -> None:
                await ctx.progress(done, total)

            result = await import_products(s, rows, mode=mode, progress=progress, actor_id=actor)
            errors = [e.model_dump() for e in result.errors]
            if errors and mode == "all_or_nothing":
                raise JobFailed(errors, result=result.model_dump(exclude={"errors"}))
        await ctx.progress(len(rows), len(rows), force=True)
        ctx.errors = errors
        return result.model_dump(exclude={"errors"})

    assert principal.tenant_id is not None
    job_id = await get_runner(request.app).submit(principal.tenant_id, "catalog.import", job, created_by=actor,
                                                  total=len(rows))
    url = f"{request.scope.get('root_path', '')}/api/v1/jobs/{job_id}"
    return JSONResponse({"job_id": str(job_id), "status": "queued", "rows": len(rows), "status_url": url},
                        status_code=202, headers={"Location": url})


@router.get("/products/export", dependencies=[CatalogWrite], response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}, "description": "The catalog, one row per variant"},
                       **problem_schema_responses(401, 403)})
async def export_csv(
    request: Request,
    principal: PrincipalDep,
    include_deleted: Annotated[bool, Query(description="Also export soft-deleted products")] = False,
) -> StreamingResponse:
    """The catalog as CSV with the import's columns (importing it back changes nothing)."""
    db = request.app.state.db
    tenant = principal.tenant_id

    async def body() -> AsyncIterator[bytes]:
        # Its own read transaction: the request's session has committed before the body streams.
        async with db.tenant_transaction(tenant) as s:
            async for chunk in export_products(s, include_deleted=include_deleted):
                yield chunk.encode()

    return StreamingResponse(body(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="products.csv"'})
