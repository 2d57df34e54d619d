"""The gateway's service layer: publishing with the submission log, files, reports."""
