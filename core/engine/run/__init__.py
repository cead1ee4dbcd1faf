"""`bench run` as a library: config → resolve → execute → summary (records underneath)."""
