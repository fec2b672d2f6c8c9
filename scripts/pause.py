"""Stop or restart deposits, sync and attribution (the pauser's emergency brake).

    brownie run scripts/pause.py pause --network <name>
    brownie run scripts/pause.py unpause --network <name>

Claims and leave() keep working while the union is paused: no pause can hold member money.
"""

from scripts.helpers import ScriptError, acting_as, say, transact


def _switch(to_paused):
    union, sender = acting_as("pauser")
    if union.paused() == to_paused:
        raise ScriptError(f"the union is already {'paused' if to_paused else 'running'}")
    verb = "pause" if to_paused else "unpause"
    transact(f"{verb} deposits, sync and attribution", getattr(union, verb), sender=sender)
    say(f"union {union.address} is now {'paused' if union.paused() else 'running'}")


def pause():
    _switch(True)


def unpause():
    _switch(False)


def main():
    raise ScriptError("say which: `brownie run scripts/pause.py pause` or `... unpause`")
