// atoll's Ethereum JSON-RPC driven by viem, as a dApp would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createPublicClient, createWalletClient, defineChain, http, webSocket, parseEther, parseUnits,
  parseEventLogs, getContractAddress, BaseError, ContractFunctionRevertedError,
} from 'viem';
import { privateKeyToAccount, generatePrivateKey } from 'viem/accounts';
import { HTTP_URL, WS_URL, KEYS, CHAIN_ID, CONTRACTS, within } from './env.mjs';

const chain = defineChain({
  id: Number(CHAIN_ID),
  name: 'atoll localnet EVM',
  nativeCurrency: { name: 'Test', symbol: 'TEST', decimals: 18 },
  rpcUrls: { default: { http: [HTTP_URL], webSocket: [WS_URL] } },
});
const account = privateKeyToAccount(KEYS[1]);
const publicClient = createPublicClient({ chain, transport: http(HTTP_URL), pollingInterval: 100 });
const walletClient = createWalletClient({ account, chain, transport: http(HTTP_URL) });
const other = privateKeyToAccount(generatePrivateKey()).address;
const { Token, Reverter } = CONTRACTS;

let token;

test('chain, balance, fees', async () => {
  assert.equal(await publicClient.getChainId(), Number(CHAIN_ID));
  assert.ok(await publicClient.getBalance({ address: account.address }) > parseEther('1'));
  const fees = await publicClient.estimateFeesPerGas();
  const block = await publicClient.getBlock();
  assert.ok(fees.maxFeePerGas >= block.baseFeePerGas);
  const history = await publicClient.getFeeHistory({ blockCount: 4, rewardPercentiles: [25, 75] });
  assert.equal(history.baseFeePerGas.length, history.gasUsedRatio.length + 1);
  assert.ok(history.gasUsedRatio.length >= 1);
});

test('deploy and use an ERC-20', async () => {
  const nonce = await publicClient.getTransactionCount({ address: account.address });
  const hash = await walletClient.deployContract({
    abi: Token.abi, bytecode: Token.bytecode, args: ['Viem Token', 'VTK', parseUnits('500', 18)],
  });
  const receipt = await publicClient.waitForTransactionReceipt({ hash, timeout: 30000 });
  assert.equal(receipt.status, 'success');
  token = receipt.contractAddress;
  assert.equal(token.toLowerCase(), getContractAddress({ from: account.address, nonce: BigInt(nonce) }).toLowerCase());

  const { request, result } = await publicClient.simulateContract({
    account, address: token, abi: Token.abi, functionName: 'transfer', args: [other, parseUnits('1.5', 18)],
  });
  assert.equal(result, true);
  const gas = await publicClient.estimateContractGas({
    account, address: token, abi: Token.abi, functionName: 'transfer', args: [other, parseUnits('1.5', 18)],
  });
  const txHash = await walletClient.writeContract({ ...request, gas });
  const r = await publicClient.waitForTransactionReceipt({ hash: txHash, timeout: 30000 });
  assert.equal(r.status, 'success');
  assert.ok(r.gasUsed <= gas);
  const [ev] = parseEventLogs({ abi: Token.abi, logs: r.logs, eventName: 'Transfer' });
  assert.equal(ev.args.to, other);
  assert.equal(ev.args.value, parseUnits('1.5', 18));
  const bal = await publicClient.readContract({ address: token, abi: Token.abi, functionName: 'balanceOf', args: [other] });
  assert.equal(bal, parseUnits('1.5', 18));

  const logs = await publicClient.getContractEvents({
    address: token, abi: Token.abi, eventName: 'Transfer', args: { to: other }, fromBlock: 0n,
  });
  assert.equal(logs.length, 1);
  assert.equal(logs[0].transactionHash, txHash);
  const tx = await publicClient.getTransaction({ hash: txHash });
  assert.equal(tx.from.toLowerCase(), account.address.toLowerCase());
  assert.equal(tx.blockNumber, r.blockNumber);
  const count = await publicClient.getBlockTransactionCount({ blockNumber: r.blockNumber });
  assert.ok(count >= 1);
});

test('revert reasons', async () => {
  const hash = await walletClient.deployContract({ abi: Reverter.abi, bytecode: Reverter.bytecode });
  const { contractAddress } = await publicClient.waitForTransactionReceipt({ hash, timeout: 30000 });
  await assert.rejects(
    publicClient.simulateContract({ account, address: contractAddress, abi: Reverter.abi, functionName: 'fail' }),
    (e) => {
      assert.ok(e instanceof BaseError);
      const revert = e.walk((x) => x instanceof ContractFunctionRevertedError);
      assert.ok(revert, e.message);
      assert.equal(revert.reason, 'Reverter: always fails');
      return true;
    },
  );
  await assert.rejects(
    publicClient.estimateContractGas({ account, address: contractAddress, abi: Reverter.abi, functionName: 'set', args: [13n] }),
    (e) => {
      assert.match(e.message, /Reverter: unlucky/);
      return true;
    },
  );
  await assert.rejects(
    publicClient.readContract({ address: contractAddress, abi: Reverter.abi, functionName: 'failCustom', account }),
    (e) => {
      const revert = e.walk((x) => x instanceof ContractFunctionRevertedError);
      assert.equal(revert?.data?.errorName, 'Unauthorized');
      return true;
    },
  );
});

test('watch new heads over eth_subscribe', async () => {
  const wsClient = createPublicClient({ chain, transport: webSocket(WS_URL) });
  const seen = [];
  let unwatch;
  try {
    const two = new Promise((resolve, reject) => {
      unwatch = wsClient.watchBlocks({
        onBlock: (b) => {
          seen.push(b.number);
          if (seen.length >= 2) resolve();
        },
        onError: reject,
      });
    });
    // Rounds run when there is work: keep some coming (bounded).
    for (let i = 0; i < 30 && seen.length < 2; i++) {
      const hash = await walletClient.sendTransaction({ to: other, value: 1n });
      await publicClient.waitForTransactionReceipt({ hash, timeout: 30000 });
      await Promise.race([two, new Promise((r) => setTimeout(r, 200))]);
    }
    await within(two, 10000, 'two blocks over eth_subscribe');
    assert.ok(seen[1] > seen[0]);
  } finally {
    unwatch?.();
    await wsClient.transport.getRpcClient().then((c) => c.close()).catch(() => {});
  }
});

test('watch logs over eth_subscribe', async () => {
  const wsClient = createPublicClient({ chain, transport: webSocket(WS_URL) });
  let unwatch;
  try {
    const got = within(new Promise((resolve, reject) => {
      unwatch = wsClient.watchContractEvent({
        address: token, abi: Token.abi, eventName: 'Transfer', onLogs: resolve, onError: reject,
      });
    }), 30000, 'a Transfer log over eth_subscribe');
    // The subscription is installed asynchronously: keep sending (bounded)
    // until one of the transfers is reported.
    const sent = [];
    let logs;
    for (let i = 0; i < 20 && !logs; i++) {
      sent.push(await walletClient.writeContract({
        address: token, abi: Token.abi, functionName: 'transfer', args: [other, 1n],
      }));
      logs = await Promise.race([got, new Promise((r) => setTimeout(r, 1000))]);
    }
    logs ??= await got;
    assert.ok(sent.includes(logs[0].transactionHash));
    assert.equal(logs[0].args.value, 1n);
  } finally {
    unwatch?.();
    await wsClient.transport.getRpcClient().then((c) => c.close()).catch(() => {});
  }
});
