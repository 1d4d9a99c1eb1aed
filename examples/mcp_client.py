"""Run the `ask` flow of a Podium app through the app's MCP endpoint (docs/mcp-server.md),
with the official MCP SDK's client: start it, answer its question, wait for its end.

    .venv/bin/python examples/mcp_client.py URL KEY [NAME]

URL is the app's endpoint, http://127.0.0.1:8000/api/v1/apps/$APP/mcp; KEY one of the
app's API keys (member or above); NAME the answer to the question (Ada by default).
"""

import asyncio
import sys

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


async def main(url: str, key: str, name: str = "Ada") -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60.0) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        tools = [tool.name for tool in (await client.list_tools()).tools]
        print("flows:", ", ".join(t for t in tools if t.startswith("flow_")))

        started = (await client.call_tool("flow_ask", {"input": {}})).structured_content
        assert started is not None
        session_id = started["session_id"]
        print(f"{started['status']}: {started['pending_question']['question']}")

        answer = {"session_id": session_id, "answer": name, "wait_seconds": 0}
        await client.call_tool("answer", answer)
        result = await client.call_tool("wait", {"session_id": session_id})
        done = result.structured_content
        assert done is not None
        print(f"{done['status']}: {done['state']['greeting']}")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
