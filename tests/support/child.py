"""A worker process for durability tests: `python child.py DATABASE_URL`.

Processes runs until none is left, like `podium worker --until-idle`, with the settings of
its environment (the tests give it a short PODIUM_LEASE_SECONDS).
"""

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from podium.config import get_settings
from podium.engine.worker import Worker
from podium.storage.store import open_store


async def main(url: str) -> None:
    settings = get_settings()
    store = open_store(url, settings)
    await store.open(migrate=False)
    try:
        await Worker(store, settings, concurrency=2).run(until_idle=True)
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
