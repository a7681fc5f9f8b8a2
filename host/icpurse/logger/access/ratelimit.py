"""Per-client rate limits on the logger's expensive reads: a token bucket per client.

A client is the key that signed the request, or the peer's address for an unsigned one. The
buckets are a worker's own (one worker's limit times the number of workers is what one client
can get at most). The table of clients is bounded: when it is full, buckets that have filled
up again are forgotten first, which loses nothing since a full bucket is what a new client
gets.
"""

import time

MAX_CLIENTS = 10_000


class RateLimiter:
    def __init__(self, rate, burst, clock=time.monotonic, max_clients=MAX_CLIENTS):
        """`rate` requests per second on average, `burst` at once."""
        self.rate = float(rate)
        self.burst = float(burst)
        self.clock = clock
        self.max_clients = max_clients
        self._buckets = {}

    def take(self, client):
        """None if `client` may go on, else the seconds it should wait."""
        now = self.clock()
        tokens, last = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1:
            self._buckets[client] = (tokens, now)
            return (1 - tokens) / self.rate
        if client not in self._buckets and len(self._buckets) >= self.max_clients:
            self._forget_full(now)
        self._buckets[client] = (tokens - 1, now)
        return None

    def _forget_full(self, now):
        self._buckets = {
            c: (t, last)
            for c, (t, last) in self._buckets.items()
            if t + (now - last) * self.rate < self.burst
        }
        if len(self._buckets) >= self.max_clients:
            # Every client is busy: forget the oldest half rather than grow without bound.
            ordered = sorted(self._buckets.items(), key=lambda item: item[1][1])
            self._buckets = dict(ordered[len(ordered) // 2 :])
