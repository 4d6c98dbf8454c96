"""The administrator's errors: each has a code and a message that says what to do.

`quietline admin` prints `quietline: <message> (<code>)` and exits with status 1.
docs/SELF_HOSTING.md lists the codes.
"""


class AdminError(Exception):
    code = "admin_error"

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class DataInUseError(AdminError):
    code = "data_in_use"


class DatabaseExistsError(AdminError):
    code = "database_exists"


class BackupExistsError(AdminError):
    code = "backup_exists"


class BackupFolderError(AdminError):
    code = "backup_folder"


class NotABackupError(AdminError):
    code = "not_a_backup"


class UnknownAccountError(AdminError):
    code = "unknown_account"


class AmbiguousAccountError(AdminError):
    code = "ambiguous_account"


class NoWebClientError(AdminError):
    code = "no_web_client"


class MailNotConfiguredError(AdminError):
    code = "mail_not_configured"


class MailFailedError(AdminError):
    code = "mail_failed"


class MoveFailedError(AdminError):
    code = "move_failed"
