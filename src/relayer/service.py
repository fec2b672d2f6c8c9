"""The running relayer, one replica: the HTTP API (and the member page), with the sender and
the indexer alongside, each working while this replica holds its role (relayer.roles).
`relayer serve` runs it in the foreground; tests and demos can run it on a thread and stop it."""

import threading
import time

import uvicorn

from relayer import alarms
from relayer.api.app import create_app
from relayer.api.http import JsonErrorsProtocol
from relayer.context import Context
from relayer.replica import run_claim_sender, run_indexer

STARTUP_TIMEOUT = 30.0


class Service:
    def __init__(
        self,
        context: Context,
        *,
        host: str = "127.0.0.1",
        port: int = 8000,
        access_log: bool = False,
        log_level: str = "info",
    ) -> None:
        self.context = context
        self.stop = threading.Event()
        config = uvicorn.Config(
            create_app(context),
            host=host,
            port=port,
            log_level=log_level,
            access_log=access_log,
            http=JsonErrorsProtocol,
        )
        self.server = uvicorn.Server(config)
        self._workers: list[threading.Thread] = []
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.server.config.host}:{self.server.config.port}"

    def run(self) -> None:
        """Serve until interrupted (uvicorn handles SIGINT and SIGTERM on the main thread).
        Raises DatabaseInUse at once on a SQLite database another process uses."""
        context = self.context
        context.roles.open()
        sender = context.sender
        self._workers = [
            threading.Thread(
                target=run_indexer, args=(context, self.stop), name="indexer", daemon=True
            ),
            threading.Thread(
                target=alarms.watch, args=(context, self.stop), name="alarms", daemon=True
            ),
            threading.Thread(target=sender.run, args=(self.stop,), name="sender", daemon=True),
        ]
        if context.separate_claim_key:
            self._workers.append(
                threading.Thread(
                    target=run_claim_sender,
                    args=(context, self.stop),
                    name="claim-sender",
                    daemon=True,
                )
            )
        for worker in self._workers:
            worker.start()
        try:
            self.server.run()
        finally:
            self.stop.set()
            sender.wake()
            for worker in self._workers:
                worker.join(timeout=10)
            context.roles.close()  # another replica may take over at once

    def start(self) -> None:
        """Run on a background thread; returns once the API accepts connections."""
        self._thread = threading.Thread(target=self.run, name="relayer", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.shutdown()
                raise RuntimeError(f"the relayer did not start on {self.url}")
            time.sleep(0.02)

    def shutdown(self) -> None:
        """Stop serving and stop the workers (after `start`)."""
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=STARTUP_TIMEOUT)
