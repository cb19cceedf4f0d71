"""Constants shared by the browser tests and their conftest.py."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO_BLOG = REPO / "examples" / "blog"
SCREENSHOTS = REPO / "artifacts" / "screenshots"

XSS_TITLE = "<img src=x onerror=alert(1)>"
XSS_POST = f"""---
title: "{XSS_TITLE}"
date: 2024-02-14 10:00:00 +0900
categories: [技術]
tags: [セキュリティ, "<b>太字</b>"]
---

比較演算子の説明です。 a < b && c > d のように書きます。<script>alert(2)</script>
"""

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
