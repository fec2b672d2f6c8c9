"""The crash tests' poster: runs the relayer's outbox in a process of its own and kills that
process (`os._exit`, no clean-up, like a SIGKILL) when one batch reaches one stage.

Settings come from the RELAYER_* environment, as for the real relayer. CRASH_AT is
"<stage>:<batch>". With PAUSE_MINING_AT="<stage>" the chain stops mining at that stage of the same
batch, so that whatever is broadcast after it is still unconfirmed when the process dies.
"""

import os
import sys

from relayer.context import Context
from relayer.settings import Settings

KILLED = 137


def main():
    crash_stage, crash_batch = os.environ["CRASH_AT"].split(":")
    pause_stage = os.environ.get("PAUSE_MINING_AT")
    context = Context.from_settings(Settings())

    def on_stage(stage, row):
        if row.batch != int(crash_batch):
            return
        if stage == pause_stage:
            context.chain.w3.provider.make_request("evm_setAutomine", [False])
        if stage == crash_stage:
            os._exit(KILLED)

    context.outbox.process(on_stage=on_stage)
    sys.exit(f"the outbox finished without reaching {crash_stage} of batch {crash_batch}")


if __name__ == "__main__":
    main()
