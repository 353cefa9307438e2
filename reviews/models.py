# Models arrive with the reviews issue.
