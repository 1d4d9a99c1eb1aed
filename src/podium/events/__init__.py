"""Events: names, the envelope, and the in-process bus that follows the durable log."""
