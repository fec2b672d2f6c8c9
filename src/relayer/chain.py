"""The chain client: the union contract through web3.py, nothing else.

Reads go straight to the node; writes are prepared here (calldata, gas estimate, decoded revert)
and signed and sent by `relayer.outbox`, which owns the relayer's nonces.
"""

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_typing import ChecksumAddress, HexStr
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import (
    BadFunctionCallOutput,
    ContractCustomError,
    ContractLogicError,
    Web3RPCError,
)

from relayer.artifacts import load_abi
from relayer.errors import ChainError, ConfigError, Reverted
from relayer.redact import redact_url

#: Events the indexer follows, in the contract's own names. AttributionFinished marks when revenue
#: held during an epoch's posting is split, which the indexer's replay needs.
INDEXED_EVENTS = (
    "RevenueDeposited",
    "SharesSet",
    "AttributionPosted",
    "AttributionFinished",
    "Claimed",
    "MemberLeft",
)


#: What the indexer follows of a root-mode union (DataUnionRoots): a root is one event, not one
#: per member; RootActivated carries the accumulator value its leaves count from.
ROOTS_INDEXED_EVENTS = (
    "RevenueDeposited",
    "RootPosted",
    "RootActivated",
    "AttributionFinished",
    "Claimed",
    "MemberLeft",
)

#: The two kinds of union: shares set member by member (DataUnion), or one root per epoch.
PUSH = "push"
ROOTS = "roots"

#: Most blocks one `eth_getLogs` call asks for (many providers refuse wider ranges).
LOG_CHUNK_BLOCKS = 2_000


@dataclass(frozen=True)
class MemberState:
    """A member's on-chain figures, all read at one block."""

    block: int
    shares: int
    claimable: int
    total_shares: int


def json_value(value: Any, kind: str) -> Any:
    """An ABI-decoded value as JSON that JavaScript reads without loss: integers as decimal
    strings, bytes as 0x hex, addresses in EIP-55 form, arrays element by element."""
    if kind.endswith("[]") and isinstance(value, list | tuple):
        return [json_value(item, kind[:-2]) for item in value]
    if kind == "address":
        return to_checksum_address(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    return value


@dataclass(frozen=True)
class AttributionState:
    """`attributionState()`: the current epoch, whether it is pending (state 1) or vetoed
    (state 2) or neither (0: finished, or none yet), and when it becomes due (chain seconds)."""

    epoch: int
    state: int
    due_at: int

    NONE = 0
    PENDING = 1
    VETOED = 2

    @property
    def pending(self) -> bool:
        return self.state == self.PENDING

    @property
    def vetoed(self) -> bool:
        return self.state == self.VETOED


@dataclass(frozen=True)
class ActiveRoot:
    """`activeRoot()` of a root-mode union: the epoch whose leaves claims prove (0 before the
    first), its root, and the accumulator value it took effect at."""

    epoch: int
    root: bytes
    epoch_start: int


@dataclass(frozen=True)
class CustomError:
    """A custom error decoded with the contract's ABI: its name, and its arguments with their
    names and types as the ABI declares them."""

    name: str
    args: tuple[Any, ...]
    names: tuple[str, ...] = ()
    types: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.name}({', '.join(map(str, self.args))})"

    def as_details(self) -> dict[str, Any]:
        names = self.names or tuple(f"arg{i}" for i in range(len(self.args)))
        types = self.types or ("",) * len(self.args)
        return {
            "error": self.name,
            "args": {
                name: json_value(value, kind)
                for name, value, kind in zip(names, self.args, types, strict=True)
            },
        }


def abi_type(spec: dict[str, Any]) -> str:
    """An ABI input's canonical type, tuples spelled out (`(int256,uint64,uint64)`), as both the
    selector and eth_abi want it."""
    kind = str(spec["type"])
    if kind.startswith("tuple"):
        inner = ",".join(abi_type(c) for c in spec["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return kind


def union_kind(w3: Web3, address: str) -> str:
    """ROOTS if the contract at `address` answers `activeRoot()` (only DataUnionRoots has it),
    else PUSH."""
    selector = "0x" + function_signature_to_4byte_selector("activeRoot()").hex()
    try:
        answer = w3.eth.call({"to": to_checksum_address(address), "data": HexStr(selector)})
    # A revert reaches here as web3's error, or as a bare ValueError through brownie's
    # middleware stack.
    except (
        ContractLogicError,
        ContractCustomError,
        BadFunctionCallOutput,
        Web3RPCError,
        ValueError,
    ):
        return PUSH
    return ROOTS if len(answer) == 96 else PUSH


def _address_bytes(value: Any, kind: str) -> Any:
    """Addresses as raw bytes, which eth_abi encodes without re-checking the checksum."""
    if kind == "address" and isinstance(value, str):
        return bytes.fromhex(value.removeprefix("0x"))
    if kind == "address[]":
        return [_address_bytes(item, "address") for item in value]
    return value


def connect(rpc_url: str, chain_id: int) -> Web3:
    """A web3 connection that is known to reach the expected chain."""
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
    shown = redact_url(rpc_url)  # the path or query may hold a provider's API key
    try:
        actual = w3.eth.chain_id
    except Exception as exc:
        raise ConfigError(f"cannot reach the chain at {shown}: {type(exc).__name__}") from None
    if actual != chain_id:
        raise ConfigError(f"the node at {shown} serves chain {actual}, not {chain_id}")
    return w3


class UnionChain:
    """The union contract (either kind: `kind` is PUSH or ROOTS, read from the chain) and its
    pool token on one chain."""

    def __init__(self, w3: Web3, address: str) -> None:
        self.w3 = w3
        self.address: ChecksumAddress = to_checksum_address(address)
        if not w3.eth.get_code(self.address):
            raise ConfigError(f"no contract at {self.address}")
        self.kind = union_kind(w3, self.address)
        self.abi = load_abi("DataUnionRoots" if self.kind == ROOTS else "DataUnion")
        self.contract: Contract = w3.eth.contract(address=self.address, abi=self.abi)
        #: The events the indexer follows on this kind of union.
        self.indexed_events = ROOTS_INDEXED_EVENTS if self.kind == ROOTS else INDEXED_EVENTS
        #: name → (0x-selector, input types) of every function, for calldata without web3's
        #: per-argument normalisation (which costs ~1 ms per address in a 500-member batch).
        self._functions = {
            f["name"]: (
                "0x"
                + function_signature_to_4byte_selector(
                    f"{f['name']}({','.join(abi_type(i) for i in f['inputs'])})"
                ).hex(),
                [abi_type(i) for i in f["inputs"]],
            )
            for f in self.abi
            if f.get("type") == "function"
        }
        self._errors = {
            function_signature_to_4byte_selector(
                f"{e['name']}({','.join(abi_type(i) for i in e['inputs'])})"
            ): e
            for e in self.abi
            if e.get("type") == "error"
        }

    @property
    def chain_id(self) -> int:
        return int(self.w3.eth.chain_id)

    @cached_property
    def token(self) -> Contract:
        address = self.contract.functions.token().call()
        token: Contract = self.w3.eth.contract(address=address, abi=load_abi("IERC20Metadata"))
        return token

    @cached_property
    def token_decimals(self) -> int:
        return int(self.token.functions.decimals().call())

    @cached_property
    def token_symbol(self) -> str:
        return str(self.token.functions.symbol().call())

    @cached_property
    def token_name(self) -> str:
        return str(self.token.functions.name().call())

    @cached_property
    def token_permit_domain(self) -> tuple[str, str] | None:
        """The (name, version) of the token's EIP-712 domain, which an EIP-2612 permit is signed
        in, as the token declares it (EIP-5267); None if it declares none (no permit offered)."""
        declared = self.w3.eth.contract(address=self.token.address, abi=load_abi("IERC5267"))
        try:
            domain = declared.functions.eip712Domain().call()
        except (ContractLogicError, BadFunctionCallOutput, Web3RPCError):
            return None
        return str(domain[1]), str(domain[2])

    def view(self, name: str, *args: Any, block: int | str = "latest") -> Any:
        """Call a view function by name."""
        return getattr(self.contract.functions, name)(*args).call(block_identifier=block)

    def head(self) -> int:
        """The latest block number."""
        return int(self.w3.eth.block_number)

    def attribution_state(self, block: int | str = "latest") -> AttributionState:
        epoch, state, due_at = self.view("attributionState", block=block)
        return AttributionState(int(epoch), int(state), int(due_at))

    @property
    def roots(self) -> bool:
        return self.kind == ROOTS

    def active_root(self, block: int | str = "latest") -> ActiveRoot:
        """The root in force (root-mode unions only)."""
        epoch, root, start = self.view("activeRoot", block=block)
        return ActiveRoot(int(epoch), bytes(root), int(start))

    def pending_root(self, block: int | str = "latest") -> tuple[bytes, int]:
        """The pending root and its total shares; zeros when none is pending (root mode)."""
        root, total = self.view("pendingRoot", block=block)
        return bytes(root), int(total)

    def block_time(self, block: int | None = None) -> int:
        """A block's timestamp (the latest's by default), in seconds: the clock the contract's
        due times run on."""
        return int(self.w3.eth.get_block("latest" if block is None else block)["timestamp"])

    def epoch_logs(
        self, event: str, epochs: list[int], from_block: int, to_block: int
    ) -> list[Any]:
        """Decoded `event` logs (its epoch the first indexed topic after the member for
        SharesSet, the first otherwise) of the given epochs in [from_block, to_block]."""
        if from_block > to_block or not epochs:
            return []
        kind = getattr(self.contract.events, event)()
        epoch_topics = ["0x" + e.to_bytes(32, "big").hex() for e in epochs]
        topics: list[Any] = [kind.topic]
        if event == "SharesSet":
            topics.append(None)
        topics.append(epoch_topics)
        found = []
        for start in range(from_block, to_block + 1, LOG_CHUNK_BLOCKS):
            end = min(start + LOG_CHUNK_BLOCKS - 1, to_block)
            logs = self.w3.eth.get_logs(
                {"address": self.address, "fromBlock": start, "toBlock": end, "topics": topics}
            )
            found += [kind.process_log(log) for log in logs]
        return found

    def shares_of(self, members: list[str], block: int) -> dict[str, int]:
        """Every member's shares at `block`, read in JSON-RPC batches of 500."""
        shares: dict[str, int] = {}
        for start in range(0, len(members), 500):
            chunk = members[start : start + 500]
            calls = [
                (
                    "eth_call",
                    [{"to": self.address, "data": self._member_call("sharesOf", m)}, hex(block)],
                )
                for m in chunk
            ]
            for member, value in zip(
                chunk, self._batch(calls, f"shares at block {block}"), strict=True
            ):
                shares[member] = value
        return shares

    def departures(self, from_block: int, to_block: int) -> dict[str, int]:
        """The block of each member's last `leave()` in [from_block, to_block], lower-cased."""
        if from_block > to_block:
            return {}
        event = self.contract.events.MemberLeft()
        logs = self.w3.eth.get_logs(
            {
                "address": self.address,
                "fromBlock": from_block,
                "toBlock": to_block,
                "topics": [event.topic],
            }
        )
        return {
            str(event.process_log(log)["args"]["member"]).lower(): int(log["blockNumber"])
            for log in logs
        }

    def _member_call(self, name: str, member: str) -> str:
        """`name(address)` calldata, encoded by hand: the member read path is hot."""
        return self._functions[name][0] + "0" * 24 + member.removeprefix("0x").lower()

    def _batch(self, calls: list[tuple[str, list[Any]]], what: str) -> list[int]:
        responses = self.w3.provider.make_batch_request(calls)  # type: ignore[attr-defined]
        if not isinstance(responses, list) or any("result" not in r for r in responses):
            raise ChainError(f"the node could not read {what}")
        return [int(str(r["result"]), 16) for r in responses]

    def member_state(
        self,
        member: str,
        block: int,
        leaf: tuple[tuple[int, int, int], list[bytes]] | None = None,
    ) -> MemberState:
        """sharesOf, claimable and totalShares at `block`, in one JSON-RPC batch: the member read
        path is hot, so it skips the per-call ABI machinery (the selectors are fixed). On a
        root-mode union the shares are the leaf's and `claimable` needs the (leaf, proof) of the
        root in force; without one the member can only have earnings frozen by leaving."""
        if self.roots:
            return self._root_member_state(member, block, leaf)
        calls = [
            ("eth_call", [{"to": self.address, "data": data}, hex(block)])
            for data in (
                self._member_call("sharesOf", member),
                self._member_call("claimable", member),
                self.calldata("totalShares"),
            )
        ]
        shares, claimable, total = self._batch(calls, f"member {member} at block {block}")
        return MemberState(block, shares, claimable, total)

    def _root_member_state(
        self, member: str, block: int, leaf: tuple[tuple[int, int, int], list[bytes]] | None
    ) -> MemberState:
        def call(data: str) -> tuple[str, list[Any]]:
            return ("eth_call", [{"to": self.address, "data": data}, hex(block)])

        if leaf is None:
            left, total = self._batch(
                [call(self._member_call("hasLeft", member)), call(self.calldata("totalShares"))],
                f"member {member} at block {block}",
            )
            if not left:
                return MemberState(block, 0, 0, total)
            leaf = ((0, 0, 0), [])  # a member who left claims without a leaf
        claimable, total = self._batch(
            [call(self.calldata("claimable", member, *leaf)), call(self.calldata("totalShares"))],
            f"member {member} at block {block}",
        )
        return MemberState(block, leaf[0][2], claimable, total)

    def calldata(self, name: str, *args: Any) -> HexStr:
        """ABI-encoded call of function `name`; addresses may be given in any letter case."""
        selector, types = self._functions[name]
        values = [_address_bytes(value, kind) for value, kind in zip(args, types, strict=True)]
        return HexStr(selector + abi_encode(types, values).hex())

    def decode_error(self, data: str | bytes | None) -> CustomError | None:
        """The contract's custom error behind revert `data`, if it is one of ours."""
        if data is None:
            return None
        raw = (
            bytes.fromhex(data[2:] if data.startswith("0x") else data)
            if isinstance(data, str)
            else data
        )
        error = self._errors.get(raw[:4])
        if error is None:
            return None
        types = tuple(i["type"] for i in error["inputs"])
        args = abi_decode(list(types), raw[4:])
        names = tuple(i.get("name") or f"arg{n}" for n, i in enumerate(error["inputs"]))
        return CustomError(error["name"], tuple(args), names, types)

    def estimate_gas(self, sender: str, data: HexStr) -> int:
        """Gas for a call from `sender`, or ChainError with the decoded revert reason."""
        try:
            return int(self.w3.eth.estimate_gas({"from": sender, "to": self.address, "data": data}))
        except (ContractCustomError, ContractLogicError) as exc:
            raise self.revert_error(exc) from None
        except Web3RPCError as exc:
            raise ChainError(f"the node refused the call: {exc.message}") from None

    def revert_error(self, exc: ContractLogicError) -> Reverted:
        decoded = self.decode_error(exc.data if isinstance(exc.data, str) else None)
        return Reverted(f"the contract reverted: {decoded or exc.message}", decoded)

    def events(self, from_block: int, to_block: int) -> list[Any]:
        """The followed events in [from_block, to_block], in chain order."""
        logs = self.w3.eth.get_logs(
            {"address": self.address, "fromBlock": from_block, "toBlock": to_block}
        )
        decoded = []
        for log in logs:
            for name in self.indexed_events:
                event = getattr(self.contract.events, name)()
                # Topics come back as HexBytes, `event.topic` is a 0x-hex str: compare as bytes.
                if log["topics"] and HexBytes(log["topics"][0]) == HexBytes(event.topic):
                    decoded.append(event.process_log(log))
                    break
        return decoded
