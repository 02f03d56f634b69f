"""Storage writes that leave the loop to the viewers. A write to flash or an SD card blocks
the one loop (a FAT write can take tens of ms), so data goes out SLICE bytes at a time and,
after each slice, the writer waits twice as long as the write took: whatever the storage,
the loop is the viewers' for two thirds of the time."""
import asyncio
import time

SLICE = 1024  # bytes written at a time


async def pause(took_ms):
    """The wait after a write that took `took_ms`."""
    await asyncio.sleep_ms(2 * took_ms)


async def no_pause(took_ms):
    """For writes made before the loop serves anyone (at start): no wait."""


async def write(f, data, wait=pause):
    """Write `data` SLICE bytes at a time, with `wait(ms the write took)` after each."""
    view = memoryview(data)
    for at in range(0, len(view), SLICE):
        began = time.ticks_ms()
        f.write(view[at:at + SLICE])
        await wait(time.ticks_diff(time.ticks_ms(), began))
