from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright

CHROMIUM_PATHS = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
PHONE_VIEWPORT = {"width": 360, "height": 740}


def chromium_path() -> str:
    for candidate in CHROMIUM_PATHS:
        if Path(candidate).exists():
            return candidate
    found = shutil.which("chromium")
    if found is None:
        pytest.fail("Chromium is not installed; scripts/test installs Debian's chromium package")
    return found


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_path(),
            headless=True,
            args=[
                "--disable-gpu",
                "--disable-quic",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield launched
        await launched.close()
