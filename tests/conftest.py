from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import ServerProcess  # noqa: E402


@pytest_asyncio.fixture(scope="session")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ServerProcess]:
    """One server shared by the tests that do not restart it."""
    process = ServerProcess(data_dir=tmp_path_factory.mktemp("data"))
    await process.start()
    yield process
    await process.stop()
    # Every test that used this server has finished, and none may have made it log an error.
    tracebacks = [line for line in process.log if line.startswith("Traceback")]
    assert not tracebacks, "the shared server logged errors:\n" + "\n".join(process.log[-200:])
