"""`podium.client`: a Python client of a Podium server's HTTP API, sync (`Client`) and async
(`AsyncClient`), over httpx. Its models are the server's own schemas (`podium.client.models`).
See docs/client.md.
"""

from podium.client._common import ChatEvent, api_base
from podium.client.aio import AsyncClient
from podium.client.errors import APIError, PodiumError, StreamLost, WaitTimeout
from podium.client.sync import Client

__all__ = [
    "APIError",
    "AsyncClient",
    "ChatEvent",
    "Client",
    "PodiumError",
    "StreamLost",
    "WaitTimeout",
    "api_base",
]
