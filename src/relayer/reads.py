"""Member reads, cached per (chain head, index position).

A member's on-chain figures change only with a new block and their history only when the
indexer moves, so the summary for one (member, head, cursor) is computed once and then served
from memory, already serialized. The head and cursor themselves are re-read at most every
`read_cache_seconds` (0: on every request), which bounds how stale a read can be.
"""

import threading
import time
from collections import OrderedDict

from relayer.chain import UnionChain
from relayer.db import CURSOR_ID, Database, IndexerCursor
from relayer.members import summary
from relayer.root_tree import Trees

MAX_ENTRIES = 20_000


class MemberReads:
    def __init__(
        self, db: Database, chain: UnionChain, max_age: float, trees: Trees | None = None
    ) -> None:
        self.db = db
        self.chain = chain
        self.trees = trees
        self.max_age = max_age
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._position: tuple[int, int] = (0, 0)
        self._position_read_at = float("-inf")
        self._entries: OrderedDict[tuple[str, int, int], bytes] = OrderedDict()

    def peek(self, address: str) -> bytes | None:
        """The cached summary as JSON, if the position is fresh and the member was read at it;
        never blocks on the chain or the database."""
        with self._lock:
            if time.monotonic() - self._position_read_at > self.max_age:
                return None
            return self._entries.get((address, *self._position))

    def _current_position(self) -> tuple[int, int]:
        with self._refresh_lock:  # one reader refreshes, the others wait and reuse its answer
            with self._lock:
                if time.monotonic() - self._position_read_at <= self.max_age:
                    return self._position
            read_at = time.monotonic()
            head = self.chain.head()
            with self.db.session() as session:
                cursor = session.get(IndexerCursor, CURSOR_ID)
                position = (head, -1 if cursor is None else cursor.block_number)
            with self._lock:
                self._position, self._position_read_at = position, read_at
            return position

    def summary_json(self, address: str) -> bytes:
        """The member's summary (relayer.members.MemberSummary) as JSON."""
        head, cursor = self._current_position()
        key = (address, head, cursor)
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None:
                self._entries.move_to_end(key)
                return cached
        with self.db.session() as session:
            read = summary(session, self.chain, address, head, self.trees)
            fresh = read.model_dump_json().encode()
        with self._lock:
            self._entries[key] = fresh
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)
        return fresh
