// Hardhat Network for the compatibility test (tests/compat): cancun rules, the chain id Hardhat
// always uses, and interval mining only (a block every second, none on a transaction), the way
// a real chain behaves. Nothing is compiled here: the test deploys brownie's artifacts.
module.exports = {
  networks: {
    hardhat: {
      hardfork: "cancun",
      chainId: 31337,
      mining: { auto: false, interval: 1000 },
    },
  },
};
