"""``GET /api/v1/jobs/{id}``: progress and outcome of a background job of the caller's shop."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from mercato.platform.auth import require
from mercato.platform.db import SessionDep
from mercato.platform.errors import problem_schema_responses
from mercato.platform.jobs import JobOut, get_job
from mercato.platform.security import Permission

router = APIRouter(tags=["jobs"])


@router.get("/jobs/{job_id}", response_model=JobOut, dependencies=[require(Permission.JOBS_READ)],
            responses=problem_schema_responses(401, 403, 404))
async def read_job(job_id: uuid.UUID, session: SessionDep) -> JobOut:
    """Rows done / total, errors (by line and column for imports) and the result once finished."""
    return await get_job(session, job_id)
