"""Events: names and the envelope (the bus that follows the durable log is `podium.live`)."""
