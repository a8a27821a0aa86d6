"""A backend reporter that keeps what a run says, for tests that check the log."""

from backend.progress import Reporter


class CollectingReporter(Reporter):
    """Keeps info lines in ``logs`` and warnings in ``warnings`` (both, in order, in ``messages``)."""

    def __init__(self):
        self.logs, self.warnings, self.messages = [], [], []

    def log(self, message, level="info"):
        (self.warnings if level == "warning" else self.logs).append(message)
        self.messages.append(message)

    def warning(self, message):
        self.log(message, level="warning")
