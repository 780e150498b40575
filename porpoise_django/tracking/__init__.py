"""What a request marks and for whom: the collector, identities,
active-once, signal receivers, CORS.
"""
