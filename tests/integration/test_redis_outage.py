"""A Redis server of the test's own, with AOF on, stopped and restarted under a workshop."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from support import Client, ServerProcess, free_port

REDIS_SERVER = shutil.which("redis-server")


@dataclass
class RedisProcess:
    folder: Path
    port: int
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        assert REDIS_SERVER is not None
        self.process = await asyncio.create_subprocess_exec(
            REDIS_SERVER,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.folder),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            if b"Ready to accept connections" in line:
                break
        else:
            raise RuntimeError("redis-server exited before it was ready")

    async def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        await self.process.wait()


@pytest_asyncio.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[RedisProcess]:
    if REDIS_SERVER is None:
        pytest.fail("redis-server is not installed; install Debian's redis-server package")
    redis = RedisProcess(folder=tmp_path, port=free_port())
    await redis.start()
    yield redis
    if redis.process is not None and redis.process.returncode is None:
        await redis.kill()


async def test_redis_restart_keeps_acknowledged_votes(
    own_redis: RedisProcess, tmp_path: Path
) -> None:
    server = ServerProcess(data_dir=tmp_path / "unused", environment={"REDIS_URL": own_redis.url})
    await server.start()
    try:
        workshop = await server.create_workshop(small_group_threshold=1)
        console = await Client.connect(server.ws_url)
        await console.request(
            {"type": "control", "workshop": workshop["id"], "token": workshop["facilitator_token"]}
        )
        await console.request({"type": "open_round", "item": "clear-information"})
        phone = await Client.connect(server.ws_url)
        token = "outage-phone-token-0123456789abcdef"
        join = {"type": "join", "code": workshop["join_code"], "role": "staff", "token": token}
        joined = await phone.request(join)
        assert joined["type"] == "ack", joined
        reply = await phone.request({"type": "vote", "round": 1, "level": 3})
        assert reply["type"] == "ack", reply

        await own_redis.kill()
        paused = await phone.expect("status")
        assert paused["store"] == "paused"

        # While Redis is down, commands are refused with a message and sockets stay open.
        refused = await phone.request({"type": "vote", "round": 1, "level": 4})
        assert refused["type"] == "error"
        assert refused["code"] == "store_unavailable"
        async with httpx.AsyncClient(base_url=server.url) as http:
            assert (await http.get("/healthz")).status_code == 200
            assert (await http.get("/readyz")).status_code == 503

        await own_redis.start()
        resumed = await console.expect("status", lambda m: m["store"] == "ok")
        assert "saved again" in resumed["message"]

        async with httpx.AsyncClient(base_url=server.url) as http:
            assert (await http.get("/readyz")).status_code == 200

        # A fresh worker has only Redis to go by: the acknowledged vote must be there.
        fresh = ServerProcess(
            data_dir=tmp_path / "unused-2", environment={"REDIS_URL": own_redis.url}
        )
        await fresh.start()
        try:
            again = await Client.connect(fresh.ws_url)
            rejoin = {"type": "join", "code": workshop["join_code"], "token": token}
            assert (await again.request(rejoin))["type"] == "ack"
            mine = await again.expect("your_vote")
            assert mine["level"] == 3
            await again.close()
        finally:
            await fresh.stop()

        reply = await console.request({"type": "reveal", "round": 1})
        assert reply["type"] == "ack", reply
        view = await console.view(lambda v: v["rounds"] and v["rounds"][-1]["result"])
        assert view["rounds"][-1]["result"]["roles"]["staff"]["counts"] == [0, 0, 1, 0, 0]
        await phone.close()
        await console.close()
    finally:
        await server.stop()
