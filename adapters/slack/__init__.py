"""The Slack adapter (slack-bolt) lives here; it is not built yet. The import contracts already cover it."""
