"""A step that fails on a user error logs one line, not a traceback; the error types are looked up only then."""

from __future__ import annotations

import logging
import sys

from pipelines.launch import quiet_user_error_tracebacks

LOGGER = "zenml.orchestrators.local.local_orchestrator"


class UserError(ValueError):
    pass


def _record(exc: BaseException | None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.getLogger(LOGGER).makeRecord(LOGGER, logging.ERROR, __file__, 1, "step failed", (), exc_info)


def test_user_error_tracebacks_are_dropped_and_the_types_looked_up_lazily():
    logger = logging.getLogger(LOGGER)
    looked_up = []

    def user_errors() -> tuple:
        looked_up.append(True)
        return (UserError,)

    before = list(logger.filters)
    quiet_user_error_tracebacks(user_errors)
    try:
        plain = _record(None)
        assert logger.filter(plain) and not looked_up  # no failure logged: the types are never imported
        try:
            raise UserError("column 'age': expected float")
        except UserError:
            user = _record(sys.exc_info()[1])
        assert logger.filter(user) and user.exc_info is None and looked_up
        try:
            raise RuntimeError("a bug")
        except RuntimeError:
            bug = _record(sys.exc_info()[1])
        assert logger.filter(bug) and bug.exc_info is not None  # a bug keeps its traceback
    finally:
        logger.filters[:] = before
