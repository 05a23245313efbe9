"""Search across all channels: the query language, word forms, the engine behind one interface, the index fed by
the change feed, and the service the API and pages ask."""
