"""The knowledge store: namespaced documents per app, and search over their chunks
(`podium.knowledge.service.KnowledgeService`)."""
