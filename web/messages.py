"""UI text. Each language is one JSON file in ``messages/``; Japanese is the default."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

_DIR = Path(__file__).parent / "messages"
DEFAULT_LANGUAGE = "ja"


@cache
def catalog(language: str = DEFAULT_LANGUAGE) -> dict[str, str]:
    path = _DIR / f"{language}.json"
    if not path.is_file():
        path = _DIR / f"{DEFAULT_LANGUAGE}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def translate(key: str, language: str = DEFAULT_LANGUAGE, **values: object) -> str:
    """The message *key* with ``{name}`` placeholders filled in."""
    text = catalog(language).get(key, key)
    return text.format(**values) if values else text
