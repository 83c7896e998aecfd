"""The Discord adapter (discord.py) lives here; it is not built yet. The import contracts already cover it."""
