#!/usr/bin/env node
// The anchor contracts of the gas benchmark, taken from their own npm packages (never copied into
// this repository), written as one JSON file of {name: {abi, bytecode, origin}}:
// - PaymentSplitter from @openzeppelin/contracts 4.9.6 (the `@openzeppelin/contracts-v4` alias),
//   compiled in-process from the package's sources by solc-js through standard JSON, with the
//   same compiler and settings as DataUnion (brownie-config.yaml), so the comparison is of code,
//   not of compilers.
// - MerkleDistributor from @uniswap/merkle-distributor 1.0.1. That package publishes no Solidity
//   sources, only its build output: the bytecode Uniswap compiled (solc 0.6.11, 200 runs) is
//   deployed as published.
// Usage: node bench/anchors.js OUTPUT.json
'use strict';

const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const fromRoot = (name) => require.resolve(name, { paths: [ROOT] });
const solc = require(fromRoot('solc'));

const OZ4 = '@openzeppelin/contracts-v4';
const OZ4_DIR = path.dirname(fromRoot(`${OZ4}/package.json`));
const MERKLE_DIR = path.dirname(fromRoot('@uniswap/merkle-distributor/package.json'));

function packageVersion(dir) {
  return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
}

function compilePaymentSplitter() {
  const unit = `${OZ4}/finance/PaymentSplitter.sol`;
  const input = {
    language: 'Solidity',
    sources: { [unit]: { content: fs.readFileSync(path.join(OZ4_DIR, 'finance/PaymentSplitter.sol'), 'utf8') } },
    settings: {
      evmVersion: 'cancun',
      optimizer: { enabled: true, runs: 10000 },
      outputSelection: { [unit]: { PaymentSplitter: ['abi', 'evm.bytecode.object'] } },
    },
  };
  // Relative imports inside the package resolve to `@openzeppelin/contracts-v4/...` unit names.
  const findImports = (name) => {
    if (!name.startsWith(`${OZ4}/`)) return { error: `not part of ${OZ4}: ${name}` };
    return { contents: fs.readFileSync(path.join(OZ4_DIR, name.slice(OZ4.length + 1)), 'utf8') };
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const errors = (output.errors || []).filter((e) => e.severity === 'error');
  if (errors.length) throw new Error(errors.map((e) => e.formattedMessage).join('\n'));
  const contract = output.contracts[unit].PaymentSplitter;
  return {
    abi: contract.abi,
    bytecode: `0x${contract.evm.bytecode.object}`,
    origin: `@openzeppelin/contracts@${packageVersion(OZ4_DIR)} finance/PaymentSplitter.sol, `
      + `compiled by solc-js ${solc.version()} (cancun, 10,000 runs)`,
  };
}

function publishedMerkleDistributor() {
  const artifact = JSON.parse(fs.readFileSync(path.join(MERKLE_DIR, 'build/MerkleDistributor.json'), 'utf8'));
  const compiler = JSON.parse(artifact.metadata).compiler.version;
  return {
    abi: artifact.abi,
    bytecode: `0x${artifact.evm.bytecode.object}`,
    origin: `@uniswap/merkle-distributor@${packageVersion(MERKLE_DIR)} build/MerkleDistributor.json, `
      + `as published (solc ${compiler})`,
  };
}

function main() {
  const out = process.argv[2];
  if (!out) {
    process.stderr.write('usage: node bench/anchors.js OUTPUT.json\n');
    process.exit(2);
  }
  const anchors = { PaymentSplitter: compilePaymentSplitter(), MerkleDistributor: publishedMerkleDistributor() };
  fs.writeFileSync(out, JSON.stringify(anchors));
}

main();
