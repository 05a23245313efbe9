"""The event bus and the manual clock, on their own."""
from __future__ import annotations

import asyncio

import pytest

from app.clock import ManualClock
from app.events import ChannelChanged, EventBus, JobChanged, PostsStored


async def test_subscribers_get_their_types_in_order_and_the_publisher_never_waits():
    bus = EventBus()
    seen: list[int] = []
    release = asyncio.Event()

    async def slow(event: PostsStored) -> None:
        await release.wait()
        seen.append(event.channel_id)

    jobs: list[str] = []
    bus.subscribe(PostsStored, slow)
    others = bus.subscribe((JobChanged, ChannelChanged), lambda e: jobs.append(type(e).__name__))
    for channel_id in range(5):
        bus.publish(PostsStored(channel_id=channel_id, new=(1,)))  # returns although the subscriber is stuck
    bus.publish(JobChanged(job_id='j', channel_id=1, status='running'))
    bus.publish(ChannelChanged(channel_id=1))
    await others.drain()
    assert jobs == ['JobChanged', 'ChannelChanged'] and seen == []
    release.set()
    await bus.drain()
    assert seen == [0, 1, 2, 3, 4]


async def test_a_failing_subscriber_is_logged_and_the_others_still_get_every_event(log_capture):
    bus = EventBus()
    got: list[int] = []

    def broken(event: ChannelChanged) -> None:
        raise ValueError('boom')

    bus.subscribe(ChannelChanged, broken)
    bus.subscribe(ChannelChanged, lambda e: got.append(e.channel_id))
    for channel_id in (1, 2):
        bus.publish(ChannelChanged(channel_id=channel_id))
    await bus.drain()
    assert got == [1, 2]
    assert 'broken failed on ChannelChanged' in log_capture and 'boom' in log_capture


async def test_a_subscriber_that_falls_behind_loses_its_oldest_events_not_the_newest():
    bus = EventBus()
    got: list[int] = []
    subscription = bus.subscribe(ChannelChanged, lambda e: got.append(e.channel_id), maxsize=3)
    for channel_id in range(10):
        bus.publish(ChannelChanged(channel_id=channel_id))
    await bus.drain()
    assert got == [7, 8, 9] and subscription.dropped == 7


async def test_next_waits_for_a_matching_event_and_a_closed_subscription_hears_nothing():
    bus = EventBus()
    waiter = asyncio.ensure_future(bus.next(JobChanged, lambda e: e.status == 'done', timeout=5))
    await asyncio.sleep(0)
    bus.publish(JobChanged(job_id='a', channel_id=1, status='running'))
    bus.publish(JobChanged(job_id='a', channel_id=1, status='done'))
    assert (await waiter).status == 'done'
    got: list[int] = []
    subscription = bus.subscribe(ChannelChanged, lambda e: got.append(e.channel_id))
    subscription.close()
    bus.publish(ChannelChanged(channel_id=3))
    await bus.drain()
    assert got == []
    with pytest.raises(TimeoutError):
        await bus.next(ChannelChanged, timeout=0.05)


async def test_the_manual_clock_wakes_sleepers_only_when_advanced_past_their_deadline():
    clock = ManualClock()
    start = clock.now()
    woke: list[float] = []

    async def sleeper(seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(seconds)

    tasks = [asyncio.ensure_future(sleeper(s)) for s in (10, 60)]
    await asyncio.sleep(0)
    assert clock.sleepers == 2
    await clock.advance(9)
    assert woke == []
    await clock.advance(1)
    assert woke == [10]
    await clock.advance(100)
    assert woke == [10, 60] and (clock.now() - start).total_seconds() == 110
    await asyncio.gather(*tasks)
