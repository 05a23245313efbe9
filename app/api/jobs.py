"""Jobs API: read a job (status, progress, ETA, error) and pause, resume or cancel it."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.api.deps import ServicesDep
from app.api.errors import ApiError
from app.db.models import Job
from app.mtproto.sync import SyncService
from app.services import Services

router = APIRouter(prefix='/mtproto')
PAST = {'pause': 'paused', 'resume': 'resumed', 'cancel': 'cancelled'}


def sync_service(services: Services) -> SyncService:
    database = getattr(services, 'database', None)
    if database is not None and not getattr(database, 'ready', True):
        raise ApiError(503, 'DB_NOT_READY', 'The database is not ready yet; try again in a moment.')
    if services.sync is None:
        raise ApiError(503, 'NOT_READY', 'The sync service is not running yet; try again in a moment.')
    return services.sync


def job_view(job: Job) -> dict[str, Any]:
    return job.model_dump(mode='json', exclude={'owner'})


async def _job(services: Services, job_id: str) -> Job:
    job = await sync_service(services).repos.jobs.get(job_id)
    if job is None:
        raise ApiError(404, 'JOB_NOT_FOUND', f'No job {job_id}.')
    return job


@router.get('/jobs/{job_id}')
async def get_job(job_id: str, services: ServicesDep) -> dict[str, Any]:
    return job_view(await _job(services, job_id))


async def _act(services: Services, job_id: str, action: str) -> dict[str, Any]:
    current = await _job(services, job_id)
    changed = await getattr(sync_service(services), action)(job_id)
    if changed is None:
        raise ApiError(409, 'JOB_STATE', f'The job is {current.status}; it cannot be {PAST[action]} now.')
    return job_view(changed)


@router.post('/jobs/{job_id}/pause')
async def pause_job(job_id: str, services: ServicesDep) -> dict[str, Any]:
    return await _act(services, job_id, 'pause')


@router.post('/jobs/{job_id}/resume')
async def resume_job(job_id: str, services: ServicesDep) -> dict[str, Any]:
    return await _act(services, job_id, 'resume')


@router.post('/jobs/{job_id}/cancel')
async def cancel_job(job_id: str, services: ServicesDep) -> dict[str, Any]:
    return await _act(services, job_id, 'cancel')
