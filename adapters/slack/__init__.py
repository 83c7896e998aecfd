"""The Slack adapter: ``SlackPresenter`` shows the bot's messages; ``SlackAdapter`` serves Slack."""

from adapters.slack.app import SlackAdapter, SlackConfigError
from adapters.slack.presenter import SlackPresenter

__all__ = ["SlackAdapter", "SlackConfigError", "SlackPresenter"]
