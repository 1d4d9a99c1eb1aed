"""Agents: definitions, the durable agent loop, the built-in agents, and their services."""
