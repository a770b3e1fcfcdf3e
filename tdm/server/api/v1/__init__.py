"""Version 1 of the API, mounted at /api/v1."""
