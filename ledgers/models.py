# Models arrive with the ledgers issue.
