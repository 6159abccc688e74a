# -*- coding: utf-8 -*-
"""The asyncio part of the stacks target: a coroutine chain that blocks in C."""
import asyncio
import time


async def leaf(register, seconds):
    register()
    time.sleep(seconds)  # BLOCK


async def middle(register, seconds):
    await leaf(register, seconds)


async def top(register, seconds):
    await middle(register, seconds)


def run(register, seconds):
    loop = asyncio.new_event_loop()
    loop.run_until_complete(top(register, seconds))


def keyword_only(register, seconds, first, *, second=2):
    """Arguments that are keyword-only with no *args or **kwargs, and a cell."""
    cell = [first]

    def use():
        return cell, second
    return 名前_𠀀(register, seconds, use)


def 名前_𠀀(register, seconds, ünï):
    """A name of 2-byte and 4-byte characters (the str kinds a name can be)."""
    register()
    time.sleep(seconds)  # BLOCK
    return ünï
