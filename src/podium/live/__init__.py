"""Following the durable event log live: the in-process bus (it reads the store, so it sits
above storage; the envelope and the names it carries stay in `podium.events`, below)."""
