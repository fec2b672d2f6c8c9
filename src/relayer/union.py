"""What a wallet or a page needs to talk to the union directly: the chain, the contract, the pool
token (symbol, decimals, the EIP-712 domain its permits are signed in) and the data types the
estimator knows. All of it is fixed at deployment, so it is read from the chain once."""

from pydantic import BaseModel, Field

from relayer.chain import UnionChain
from relayer.claim_policy import ClaimPolicy


class PermitDomain(BaseModel):
    name: str = Field(description="the token's EIP-712 domain name")
    version: str = Field(description="the token's EIP-712 domain version")


class TokenInfo(BaseModel):
    address: str
    name: str
    symbol: str
    decimals: int
    permit: PermitDomain | None = Field(
        description="the EIP-2612 permit domain; null if the token declares none (EIP-5267)"
    )


class NetworkOffer(BaseModel):
    """What a wallet needs to add the network (EIP-3085 `wallet_addEthereumChain`)."""

    chain_name: str
    rpc_url: str = Field(description="a public RPC address for the chain")
    gas_currency: str = Field(description="symbol of the native gas currency (18 decimals)")


class UnionInfo(BaseModel):
    chain_id: int
    union: str = Field(description="the DataUnion contract's address")
    token: TokenInfo
    data_types: list[str] = Field(description="the data types the estimator and attribution rate")
    network: NetworkOffer | None = Field(
        default=None,
        description="offered to wallets that do not know the chain; null if none is configured",
    )
    claim_policy: ClaimPolicy | None = Field(
        default=None, description="what the relayer takes as a gasless claim"
    )


def describe(
    chain: UnionChain,
    chain_id: int,
    data_types: list[str],
    network: NetworkOffer | None = None,
    claim_policy: ClaimPolicy | None = None,
) -> UnionInfo:
    permit = chain.token_permit_domain
    return UnionInfo(
        chain_id=chain_id,
        union=chain.address,
        token=TokenInfo(
            address=chain.token.address,
            name=chain.token_name,
            symbol=chain.token_symbol,
            decimals=chain.token_decimals,
            permit=None if permit is None else PermitDomain(name=permit[0], version=permit[1]),
        ),
        data_types=sorted(data_types),
        network=network,
        claim_policy=claim_policy,
    )
