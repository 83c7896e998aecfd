"""The service's use cases that stand apart from one campaign's cycle: effects, channels, schedules."""
