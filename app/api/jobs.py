"""Jobs API: read a job (status, progress, ETA, error) and pause, resume or cancel it."""
from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import ReadyRootDep
from app.api.errors import ApiError
from app.api.params import IdPath
from app.db.models import Job
from app.i18n import lazy
from app.root import Root
from app.views import JobView

router = APIRouter(prefix='/mtproto')
REFUSED = {'pause': lazy('The job is {status}; it cannot be paused now.'),
           'resume': lazy('The job is {status}; it cannot be resumed now.'),
           'cancel': lazy('The job is {status}; it cannot be cancelled now.')}


async def _job(root: Root, job_id: str) -> Job:
    job = await root.sync.repos.jobs.get(job_id)
    if job is None:
        raise ApiError(404, 'JOB_NOT_FOUND', lazy('No job {job_id}.', job_id=job_id))
    return job


@router.get('/jobs/{job_id}', response_model=JobView)
async def get_job(job_id: IdPath, root: ReadyRootDep) -> JobView:
    return JobView.of(await _job(root, job_id))


async def _act(root: Root, job_id: str, action: str) -> JobView:
    current = await _job(root, job_id)
    changed = await getattr(root.sync, action)(job_id)
    if changed is None:
        raise ApiError(409, 'JOB_STATE', lazy(REFUSED[action], status=current.status))
    return JobView.of(changed)


@router.post('/jobs/{job_id}/pause', response_model=JobView)
async def pause_job(job_id: IdPath, root: ReadyRootDep) -> JobView:
    return await _act(root, job_id, 'pause')


@router.post('/jobs/{job_id}/resume', response_model=JobView)
async def resume_job(job_id: IdPath, root: ReadyRootDep) -> JobView:
    return await _act(root, job_id, 'resume')


@router.post('/jobs/{job_id}/cancel', response_model=JobView)
async def cancel_job(job_id: IdPath, root: ReadyRootDep) -> JobView:
    return await _act(root, job_id, 'cancel')
