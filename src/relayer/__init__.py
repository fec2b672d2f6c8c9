"""The data union's relayer: attributes value to members' contributions and posts shares on-chain.

This package talks to the chain with web3.py and eth-account only; brownie is for the operator
scripts and the contract tests.
"""

__version__ = "0.1.0"
