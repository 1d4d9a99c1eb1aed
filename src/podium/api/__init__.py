"""The HTTP API (FastAPI): routes stay thin, the engine and store do the work."""
