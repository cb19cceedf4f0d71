"""Real-browser tests (Playwright + Chromium); fixtures live for this package only."""
