"""A worker process for schedule tests: `python schedule_worker.py DATABASE_URL CLOCK_FILE`.

Runs a `Worker` whose clock is the number in CLOCK_FILE (the test moves it on), sweeping
schedules every PODIUM_SCHEDULE_POLL_SECONDS, until the file `CLOCK_FILE.stop` exists.
"""

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from podium.config import get_settings
from podium.engine.worker import Worker
from podium.storage.store import open_store


async def main(url: str, clock_file: str) -> None:
    clock_path = Path(clock_file)
    stop = Path(clock_file + ".stop")

    def clock() -> float:
        return float(clock_path.read_text())

    settings = get_settings()
    store = open_store(url, settings)
    await store.open(migrate=False)
    worker = Worker(store, settings, concurrency=1, clock=clock)
    task = asyncio.create_task(worker.run())
    try:
        print("ready", flush=True)
        while not stop.exists():
            await asyncio.sleep(0.05)
        worker.stop()
        await asyncio.wait_for(task, 10)
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
