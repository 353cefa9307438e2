# Models arrive with the pledges issue.
