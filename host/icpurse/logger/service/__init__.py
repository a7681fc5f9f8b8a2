"""The logger's rules, apart from HTTP and SQL: LoggerService checks and sequences records
(logger_service.py, appender.py), answers from what is stored (ledger.py) and settles payers'
journals, refunds and recoveries (settlement.py). Every query goes through the storage layer
(icpurse.logger.storage)."""

from icpurse.logger.service.logger_service import DEFAULT_WINDOW, LoggerService

__all__ = ["DEFAULT_WINDOW", "LoggerService"]
