// Runs the member page's own modules under node for tests/web/test_page_modules.py: reads one
// JSON request on stdin, answers on stdout. {"trees": [{epoch, leaves}]} → the root and every
// proof of each tree as js/merkle.js builds them; {"calls": [{name, args}]} → the calldata
// js/abi.js encodes for DataUnionRoots' functions.
import { readFileSync } from "node:fs";
import { rootsCalldata } from "../../../src/relayer/web/js/abi.js";
import { buildTree, hex, leafHash } from "../../../src/relayer/web/js/merkle.js";

const request = JSON.parse(readFileSync(0, "utf8"));
const answer = {};
if (request.trees) {
  answer.trees = request.trees.map(({ epoch, leaves }) => {
    const tree = buildTree(epoch, leaves);
    return {
      root: tree.root,
      order: tree.leaves.map((leaf) => leaf.member),
      leafHashes: tree.leaves.map((leaf) => hex(leafHash(epoch, leaf.member, leaf))),
      proofs: tree.leaves.map((_, i) => tree.proof(i)),
    };
  });
}
if (request.calls) {
  answer.calls = request.calls.map(({ name, args }) => rootsCalldata(name, ...args));
}
process.stdout.write(JSON.stringify(answer));
