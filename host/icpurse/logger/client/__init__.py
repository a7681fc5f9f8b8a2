"""What a client of the logger needs: LoggerClient (logger_client.py), the checks of the API's
answers (answers.py) and the verifiers of Merkle proofs (merkle_proofs.py)."""

from icpurse.logger.client.answers import LoggerError
from icpurse.logger.client.logger_client import CLI_RETRIES, LoggerClient

__all__ = ["CLI_RETRIES", "LoggerClient", "LoggerError"]
