"""The durable flow engine: flow model, scheduling, execution and workers."""
