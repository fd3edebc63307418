// The checked-in artifacts are what solc-js compiles from the sources now.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ARTIFACTS, compile, render } from './compile.mjs';

test('checked-in artifacts match a fresh solc-js compile', () => {
  assert.equal(readFileSync(ARTIFACTS, 'utf8'), render(compile()), 'run `node compile.mjs` in tests/web3-clients');
});
