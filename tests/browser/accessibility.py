"""axe-core checks for the browser tests.

axe-core comes from the ``axe-playwright-python`` package (a test dependency), which
ships a copy of ``axe.min.js``, so nothing is downloaded at test time. The script is
run with ``page.evaluate``: Playwright evaluates it through the DevTools protocol, so
the pages' Content-Security-Policy, which blocks inline scripts, does not block it.
"""

from __future__ import annotations

from typing import Any

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
FAILING_IMPACTS = {"serious", "critical"}

_axe = Axe()


def _describe(violation: dict[str, Any]) -> str:
    targets = [" ".join(node["target"]) for node in violation["nodes"][:5]]
    return f"{violation['id']} ({violation['impact']}): {violation['help']}; at {targets}"


async def check_accessibility(page: Page, label: str) -> None:
    """Run axe-core's WCAG 2.2 A and AA and best-practice rules on the page.

    Fails on any serious or critical violation, naming `label` (the page and phase).
    """
    results = await _axe.run(
        page,
        options={"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]},
    )
    response = results.response
    assert response["passes"], f"axe-core checked nothing on {label}: {response.get('url')}"
    failing = [v for v in response["violations"] if v["impact"] in FAILING_IMPACTS]
    assert not failing, f"axe-core on {label}:\n" + "\n".join(_describe(v) for v in failing)
