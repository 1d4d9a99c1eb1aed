"""Sessions and runs as the API sees them (app-scoped), over the engine."""
