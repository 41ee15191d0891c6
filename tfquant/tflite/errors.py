"""Errors raised by the exporter. Each message names the problem and the fix."""


class ExportError(ValueError):
    """The model or the request cannot be exported as asked."""


class VerificationError(RuntimeError):
    """The written file disagrees with the Keras model; `figures` holds the measured errors."""

    def __init__(self, message, figures):
        super().__init__(message)
        self.figures = figures
