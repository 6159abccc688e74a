"""An asyncio program whose tasks are suspended in every way --tasks must show (3.8+).

`asyncio_tasks.py [MANY]`: starts tasks that sleep through a chain of coroutines,
await another task, gather() children, wait on a Lock, a Queue and an Event, iterate
an async generator, await each other in a circle (a deadlock), run in TaskGroups
(3.11+) and eagerly (3.12+), are asyncio's pure-Python Task, wait in wait_for(),
yield with sleep(0), or never start, plus MANY (default 0) identical sleepers; keeps a
finished, a failed and a cancelled task. Then prints one JSON line describing every
task as the program itself sees it, and blocks its main task in time.sleep(): that
task is running, every other one suspended.

Each task: name, state, its await chain (file, cr_frame.f_lineno, co_name of every
coroutine from the task's own down, as `cr_await` leads) and the names of the tasks
that await it, as built.
"""
import asyncio
import json
import os
import sys
import time

SLEEP = 100000
TASKS = {}
AWAITED_BY = {}  # name -> names of the tasks that await it, as built here
AGEN = []  # the async generator: the program cannot reach it from its asend object


async def leaf():
    await asyncio.sleep(SLEEP)  # LEAF


async def middle():
    await leaf()  # MIDDLE


async def await_task(name):
    await TASKS[name]  # AWAIT-TASK


async def gather_parent(names):
    await asyncio.gather(*[TASKS[n] for n in names])  # GATHER


async def lock_waiter(lock):
    async with lock:  # LOCK
        pass


async def queue_waiter(queue):
    await queue.get()  # QUEUE


async def event_waiter(event):
    await event.wait()  # EVENT


async def ticks():
    while True:
        await asyncio.sleep(SLEEP)  # AGEN
        yield 1


async def agen_consumer():
    gen = ticks()
    AGEN.append(gen)
    async for _ in gen:  # CONSUMER
        pass


async def circle(other):
    await asyncio.sleep(0)
    await TASKS[other]  # CIRCLE


async def wait_for_inner():
    await asyncio.sleep(SLEEP)  # WAIT-INNER


async def wait_for_outer():
    await asyncio.wait_for(wait_for_inner(), SLEEP)  # WAIT-FOR


async def yielder():
    while True:
        await asyncio.sleep(0)  # YIELDER


async def finishes():
    return 42


async def fails():
    raise ValueError("boom")


async def taskgroup_parent():
    async with asyncio.TaskGroup() as group:  # TASKGROUP
        start(group.create_task, middle(), "tg-child-1", "tg-parent")
        start(group.create_task, nested_group(), "tg-child-2", "tg-parent")


async def nested_group():
    async with asyncio.TaskGroup() as group:  # NESTED
        start(group.create_task, leaf(), "tg-grandchild", "tg-child-2")


def start(create, coro, name, awaited_by=None):
    task = create(coro, name=name)
    TASKS[name] = task
    AWAITED_BY.setdefault(name, [])
    if awaited_by:
        AWAITED_BY[name].append(awaited_by)
    return task


def chain(task):
    """(file, line, function) of every coroutine down the task's await chain."""
    out = []
    obj = task.get_coro()
    while obj is not None:
        if type(obj).__name__ == "async_generator_asend":
            obj = AGEN[0]
        frame = getattr(obj, "cr_frame", None) or getattr(obj, "ag_frame", None) or \
            getattr(obj, "gi_frame", None)
        if frame is None:
            break
        out.append([frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name])
        obj = getattr(obj, "cr_await", None) or getattr(obj, "ag_await", None) or \
            getattr(obj, "gi_yieldfrom", None)
        if obj is not None and not hasattr(obj, "cr_frame") and \
                not hasattr(obj, "gi_frame") and type(obj).__name__ != "async_generator_asend":
            break
    return out


def state(task):
    if not task.done():
        return "pending"
    return "cancelled" if task.cancelled() else "done"


async def main(many):
    me = asyncio.current_task()
    me.set_name("main")
    TASKS["main"] = me
    AWAITED_BY["main"] = []
    create = asyncio.get_running_loop().create_task
    start(create, middle(), "sleeper")
    start(create, middle(), "awaited")
    start(create, await_task("awaited"), "waiter")
    AWAITED_BY["awaited"].append("waiter")
    start(create, leaf(), "gathered-1")
    start(create, leaf(), "gathered-2")
    start(create, gather_parent(["gathered-1", "gathered-2"]), "gatherer")
    AWAITED_BY["gathered-1"].append("gatherer")
    AWAITED_BY["gathered-2"].append("gatherer")
    lock = asyncio.Lock()
    await lock.acquire()
    start(create, lock_waiter(lock), "lock-waiter")
    start(create, queue_waiter(asyncio.Queue()), "queue-waiter")
    start(create, event_waiter(asyncio.Event()), "event-waiter")
    start(create, agen_consumer(), "agen-consumer")
    start(create, circle("circle-b"), "circle-a", "circle-b")
    start(create, circle("circle-a"), "circle-b", "circle-a")
    kept = [start(create, finishes(), "finished"), start(create, fails(), "failed"),
            start(create, leaf(), "cancelled")]
    if sys.version_info >= (3, 11):
        start(create, taskgroup_parent(), "tg-parent")
    if sys.version_info >= (3, 12):
        loop = asyncio.get_running_loop()
        start(lambda coro, name: asyncio.eager_task_factory(loop, coro, name=name),
              middle(), "eager")
    start(create, wait_for_outer(), "wait-outer")
    start(create, yielder(), "yielder")
    # asyncio's pure-Python Task, and a C task awaiting it
    start(lambda coro, name: asyncio.tasks._PyTask(coro, name=name), middle(), "py-task")
    start(create, await_task("py-task"), "py-waiter")
    AWAITED_BY["py-task"].append("py-waiter")
    for i in range(many):
        start(create, leaf(), "many-%d" % i)
    for _ in range(5):
        await asyncio.sleep(0.05)
    kept[2].cancel()
    for _ in range(5):
        await asyncio.sleep(0.05)
    # the task wait_for() makes around its coroutine up to 3.11 (3.12+ awaits the
    # coroutine itself): named here to be found
    for inner in asyncio.all_tasks():
        if inner.get_coro().__name__ == "wait_for_inner":
            inner.set_name("wait-inner")
            TASKS["wait-inner"] = inner
            AWAITED_BY["wait-inner"] = ["wait-outer"]
    start(create, leaf(), "not-started")  # the loop never runs again: it never starts
    tasks = [t for t in TASKS.values()]
    report = {"pid": os.getpid(), "tasks": [
        {"name": t.get_name(), "state": state(t), "stack": chain(t) if not t.done() else [],
         "awaited_by": sorted(AWAITED_BY.get(t.get_name(), []))}
        for t in tasks if not t.get_name().startswith("many-") or t.get_name() == "many-0"]}
    report["many"] = many
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()
    time.sleep(SLEEP)  # MAIN


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
