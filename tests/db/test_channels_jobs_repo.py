from datetime import timedelta

from app.db.models import Channel, JobKind, JobStatus, Metric, MetricKind, SyncStatus, utcnow


async def test_channel_metadata_upsert_keeps_state_and_hashes_per_account(repos):
    channel, created = await repos.channels.upsert_metadata(
        Channel(id=77, title='One', username='one_chan', participants_count=10), account_id='a1', access_hash=111)
    assert created and channel.access_hashes == {'a1': 111} and channel.state.status == SyncStatus.IDLE
    await repos.channels.set_state(77, status=SyncStatus.SYNCING, last_message_id=42)
    channel, created = await repos.channels.upsert_metadata(
        Channel(id=77, title='One renamed', participants_count=12), account_id='a2', access_hash=222)
    assert not created
    assert channel.title == 'One renamed' and channel.participants_count == 12
    assert channel.access_hashes == {'a1': 111, 'a2': 222}
    assert channel.state.status == SyncStatus.SYNCING and channel.state.last_message_id == 42
    assert [c.id for c in await repos.channels.list()] == [77]
    await repos.channels.forget_account('a1')
    assert (await repos.channels.get(77)).access_hashes == {'a2': 222}
    assert (await repos.channels.by_username('ONE_CHAN')) is None  # username cleared by the rename
    assert await repos.channels.due() == []  # a new channel's backfill is started by whoever adds it
    assert len(await repos.channels.due(now=utcnow() + timedelta(seconds=301))) == 1  # then it syncs on schedule
    later = utcnow() + timedelta(seconds=301)
    assert await repos.channels.claim_due(77, next_sync_at=later + timedelta(seconds=300), now=later)
    assert not await repos.channels.claim_due(77, next_sync_at=later, now=later)  # only one scheduler wins it
    assert await repos.channels.due(now=later) == []


async def test_metrics_series(repos):
    for n in (5, 7, 9):
        await repos.metrics.add(Metric(kind=MetricKind.CHANNEL, channel_id=3, values={'subscribers': n}))
    series = await repos.metrics.series(channel_id=3)
    assert [m.values['subscribers'] for m in series] == [5, 7, 9]


async def test_job_status_transitions_checkpoint_and_claim(repos):
    job = await repos.jobs.create(kind=JobKind.BACKFILL, channel_id=5, total=1000)
    assert (await repos.jobs.claim(job.id, owner='p1')).status == JobStatus.RUNNING
    await repos.jobs.save_checkpoint(job.id, checkpoint={'offset_id': 501}, done=500, total=1000, eta_seconds=3.0)
    stored = await repos.jobs.get(job.id)
    assert stored.checkpoint == {'offset_id': 501} and stored.progress.done == 500 and stored.eta_seconds == 3.0
    # another process cannot take a running job, unless it names the owner that abandoned it
    assert [j.id for j in await repos.jobs.unfinished()] == [job.id]
    assert await repos.jobs.claim(job.id, owner='p2') is None
    assert await repos.jobs.claim(job.id, owner='p3', steal_from='someone-else') is None
    assert (await repos.jobs.claim(job.id, owner='p2', steal_from='p1')).owner == 'p2'
    paused = await repos.jobs.transition(job.id, to=JobStatus.PAUSED, allowed_from=(JobStatus.RUNNING,))
    assert paused.status == JobStatus.PAUSED
    assert await repos.jobs.claim(job.id, owner='p3') is None  # paused jobs are not resumed by a restart
    assert await repos.jobs.transition(job.id, to=JobStatus.DONE, allowed_from=(JobStatus.RUNNING,)) is None
    assert (await repos.jobs.active_for_channel(5)).id == job.id
    done = await repos.jobs.transition(job.id, to=JobStatus.CANCELLED, allowed_from=(JobStatus.PAUSED,))
    assert done.finished_at is not None and await repos.jobs.active_for_channel(5) is None
