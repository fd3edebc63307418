// Compiles contracts/*.sol with solc-js (the version pinned in
// package-lock.json) and returns {Name: {abi, bytecode}}.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import solc from 'solc';

const here = dirname(fileURLToPath(import.meta.url));

export function compile() {
  const dir = join(here, 'contracts');
  const sources = {};
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.sol')).sort()) {
    sources[f] = { content: readFileSync(join(dir, f), 'utf8') };
  }
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      evmVersion: 'cancun',
      optimizer: { enabled: true, runs: 200 },
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
    },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (out.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length > 0) {
    throw new Error(errors.map((e) => e.formattedMessage).join('\n'));
  }
  const result = {};
  for (const file of Object.keys(out.contracts)) {
    for (const [name, c] of Object.entries(out.contracts[file])) {
      result[name] = {
        abi: c.abi,
        bytecode: `0x${c.evm.bytecode.object}`,
        deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
      };
    }
  }
  return result;
}

/// Where the compiled contracts are checked in, for Rust code (the EVM
/// benchmark) that cannot run solc; `contracts.test.mjs` checks it is current.
export const ARTIFACTS = join(here, 'artifacts', 'contracts.json');

export function render(compiled) {
  return `${JSON.stringify(compiled, null, 2)}\n`;
}

// `node compile.mjs` rewrites the checked-in artifacts.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(ARTIFACTS, render(compile()));
}
