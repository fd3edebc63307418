// atoll's Ethereum JSON-RPC driven by ethers v6, as a dApp would.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ContractFactory, Contract, JsonRpcProvider, WebSocketProvider, Wallet, Transaction,
  getCreateAddress, parseEther, parseUnits, isError, id as topicOf, zeroPadValue,
} from 'ethers';
import { HTTP_URL, WS_URL, KEYS, CHAIN_ID, CONTRACTS, within } from './env.mjs';

const provider = new JsonRpcProvider(HTTP_URL, undefined, { pollingInterval: 100 });
const wallet = new Wallet(KEYS[0], provider);
const other = Wallet.createRandom().address;
after(() => provider.destroy());

let token;
let reverter;

test('network: chain id, block number, fees', async () => {
  const net = await provider.getNetwork();
  assert.equal(net.chainId, CHAIN_ID);
  const n = await provider.getBlockNumber();
  assert.ok(n >= 1, `block number ${n}`);
  const block = await provider.getBlock('latest');
  assert.equal(block.number >= n, true);
  assert.ok(block.baseFeePerGas > 0n, 'base fee is the minimum gas price');
  const fees = await provider.getFeeData();
  assert.ok(fees.gasPrice >= block.baseFeePerGas);
  assert.ok(fees.maxFeePerGas >= block.baseFeePerGas);
  assert.ok(await provider.getBalance(wallet.address) > parseEther('1'));
});

test('deploy an ERC-20: receipt, contract address, code', async () => {
  const nonce = await provider.getTransactionCount(wallet.address);
  const { abi, bytecode } = CONTRACTS.Token;
  const factory = new ContractFactory(abi, bytecode, wallet);
  token = await factory.deploy('Atoll Test Token', 'ATT', parseUnits('1000000', 18));
  const deployTx = token.deploymentTransaction();
  const receipt = await deployTx.wait();
  assert.equal(receipt.status, 1);
  const address = await token.getAddress();
  assert.equal(address, getCreateAddress({ from: wallet.address, nonce }));
  assert.equal(receipt.contractAddress, address);
  assert.equal((await provider.getCode(address)), CONTRACTS.Token.deployedBytecode);
  assert.equal(await token.symbol(), 'ATT');
  assert.equal(await token.balanceOf(wallet.address), parseUnits('1000000', 18));
  // The constructor's Transfer(0, deployer, supply) is in the receipt.
  assert.equal(receipt.logs.length, 1);
  assert.equal(receipt.logs[0].topics[0], topicOf('Transfer(address,address,uint256)'));
  assert.equal(await provider.getTransactionCount(wallet.address), nonce + 1);
});

test('transfer: receipt, logs, balances, lookups by hash and block', async () => {
  const amount = parseUnits('12.5', 18);
  const estimate = await token.transfer.estimateGas(other, amount);
  assert.ok(estimate > 21000n && estimate < 100000n, `estimate ${estimate}`);
  const tx = await token.transfer(other, amount, { gasLimit: estimate });
  const receipt = await tx.wait();
  assert.equal(receipt.status, 1);
  assert.ok(receipt.gasUsed <= estimate);
  assert.equal(receipt.logs.length, 1);
  const ev = token.interface.parseLog(receipt.logs[0]);
  assert.equal(ev.name, 'Transfer');
  assert.equal(ev.args.from, wallet.address);
  assert.equal(ev.args.to, other);
  assert.equal(ev.args.value, amount);
  assert.equal(await token.balanceOf(other), amount);

  const seen = await provider.getTransaction(tx.hash);
  assert.equal(seen.hash, tx.hash);
  assert.equal(seen.from, wallet.address);
  assert.equal(seen.blockNumber, receipt.blockNumber);
  const block = await provider.getBlock(receipt.blockNumber);
  assert.ok(block.transactions.includes(tx.hash));
  const byHash = await provider.getBlock(block.hash);
  assert.equal(byHash.number, block.number);
  assert.equal(receipt.blockHash, block.hash);
});

test('state at an older block: balances, nonces, storage and calls as they were', async () => {
  const to = Wallet.createRandom().address;
  const holder = Wallet.createRandom().address;
  const nonce = await provider.getTransactionCount(wallet.address);
  const tx = await wallet.sendTransaction({ to, value: 1234n });
  const receipt = await tx.wait();
  const sent = await token.transfer(holder, 7n);
  const after = await sent.wait();
  const before = receipt.blockNumber - 1;
  assert.ok(before >= 1 && after.blockNumber > receipt.blockNumber);
  assert.equal(await provider.getBalance(to, before), 0n);
  assert.equal(await provider.getBalance(to, receipt.blockNumber), 1234n);
  assert.equal(await provider.getBalance(to), 1234n);
  assert.equal(await provider.getTransactionCount(wallet.address, before), nonce);
  assert.equal(await provider.getTransactionCount(wallet.address, receipt.blockNumber), nonce + 1);
  // eth_call at a block: the token balance before and after the transfer.
  assert.equal(await token.balanceOf(holder, { blockTag: receipt.blockNumber }), 0n);
  assert.equal(await token.balanceOf(holder, { blockTag: after.blockNumber }), 7n);
  assert.equal(await token.balanceOf(holder), 7n);
  // By block hash (EIP-1898) too.
  const block = await provider.getBlock(receipt.blockNumber);
  const byHash = await provider.send('eth_getBalance', [to, { blockHash: block.hash }]);
  assert.equal(BigInt(byHash), 1234n);
  // A block after the head is refused as geth refuses it.
  const head = await provider.getBlockNumber();
  await assert.rejects(provider.getBalance(to, head + 1000), /header not found/);
});

test('logs by filter: address, topics, block range', async () => {
  const latest = await provider.getBlockNumber();
  const events = await token.queryFilter(token.filters.Transfer(wallet.address, other), 0, latest);
  assert.equal(events.length, 1);
  assert.equal(events[0].args.value, parseUnits('12.5', 18));
  const raw = await provider.getLogs({
    address: await token.getAddress(),
    topics: [topicOf('Transfer(address,address,uint256)'), null, zeroPadValue(other, 32)],
    fromBlock: 0,
    toBlock: 'latest',
  });
  assert.equal(raw.length, 1);
  const none = await provider.getLogs({ address: other, fromBlock: 0, toBlock: 'latest' });
  assert.equal(none.length, 0);
});

test('reverts: reasons from eth_call, eth_estimateGas and a mined failing transaction', async () => {
  const { abi, bytecode } = CONTRACTS.Reverter;
  reverter = await new ContractFactory(abi, bytecode, wallet).deploy();
  await reverter.waitForDeployment();

  await assert.rejects(reverter.fail.staticCall(), (e) => {
    assert.ok(isError(e, 'CALL_EXCEPTION'), e.code);
    assert.equal(e.reason, 'Reverter: always fails');
    return true;
  });
  await assert.rejects(reverter.set.estimateGas(13), (e) => {
    assert.ok(isError(e, 'CALL_EXCEPTION'), e.code);
    assert.equal(e.reason, 'Reverter: unlucky');
    return true;
  });
  await assert.rejects(reverter.failCustom.staticCall(), (e) => {
    assert.equal(e.revert?.name, 'Unauthorized');
    assert.equal(e.revert?.args[1], 42n);
    return true;
  });
  await assert.rejects(reverter.failPanic.staticCall(0), (e) => {
    assert.equal(e.revert?.name, 'Panic');
    return true;
  });
  // A failing transaction is mined with status 0 and pays for its gas.
  const before = await provider.getBalance(wallet.address);
  const tx = await reverter.set(13, { gasLimit: 100000 });
  await assert.rejects(tx.wait(), (e) => {
    assert.ok(isError(e, 'CALL_EXCEPTION'), e.code);
    assert.equal(e.receipt.status, 0);
    return true;
  });
  const receipt = await provider.getTransactionReceipt(tx.hash);
  assert.equal(receipt.status, 0);
  assert.equal(receipt.logs.length, 0);
  const after = await provider.getBalance(wallet.address);
  assert.equal(before - after, receipt.gasUsed * receipt.gasPrice);
  assert.equal(await reverter.value(), 0n);

  const ok = await (await reverter.set(7)).wait();
  assert.equal(ok.status, 1);
  assert.equal(await reverter.value(), 7n);
});

test('block context seen by contracts', async () => {
  const [number, timestamp, chainId, basefee, gaslimit] = await reverter.blockInfo();
  const latest = await provider.getBlock('latest');
  assert.equal(chainId, CHAIN_ID);
  assert.ok(number >= BigInt(latest.number));
  assert.ok(timestamp >= BigInt(latest.timestamp));
  assert.equal(basefee, latest.baseFeePerGas);
  assert.equal(gaslimit, latest.gasLimit);
});

test('transaction types: legacy (EIP-155), EIP-2930, EIP-1559; no unprotected legacy', async () => {
  const fees = await provider.getFeeData();
  const to = Wallet.createRandom().address;
  const base = { to, value: 1000n, gasLimit: 21000n };
  let nonce = await provider.getTransactionCount(wallet.address);
  // A legacy transaction without a chain id could be replayed from any
  // chain: refused as geth refuses it (rpc.allow-unprotected-txs off).
  const unprotected = await wallet.signTransaction(
    Transaction.from({ ...base, type: 0, chainId: 0n, gasPrice: fees.gasPrice, nonce }),
  );
  await assert.rejects(
    provider.send('eth_sendRawTransaction', [unprotected]),
    /only replay-protected \(EIP-155\) transactions allowed over RPC/,
  );
  const txs = [
    { ...base, type: 0, chainId: CHAIN_ID, gasPrice: fees.gasPrice },
    // An access list entry costs 2,400 more intrinsic gas (EIP-2930).
    { ...base, type: 1, chainId: CHAIN_ID, gasPrice: fees.gasPrice, gasLimit: 23400n, accessList: [{ address: to, storageKeys: [] }] },
    { ...base, type: 2, chainId: CHAIN_ID, maxFeePerGas: fees.maxFeePerGas, maxPriorityFeePerGas: fees.maxPriorityFeePerGas },
  ];
  for (const fields of txs) {
    const signed = await wallet.signTransaction(Transaction.from({ ...fields, nonce: nonce++ }));
    const hash = await provider.send('eth_sendRawTransaction', [signed]);
    const receipt = await provider.waitForTransaction(hash, 1, 30000);
    assert.equal(receipt.status, 1, `type ${fields.type}`);
    assert.equal(receipt.type, fields.type);
    // The access list is charged and its account warmed as on Ethereum.
    assert.equal(receipt.gasUsed, fields.type === 1 ? 23400n : 21000n, `type ${fields.type}`);
    const seen = await provider.getTransaction(hash);
    assert.equal(seen.type, fields.type);
  }
  assert.equal(await provider.getBalance(to), 3000n);
});

test('bad input gets Ethereum errors and changes nothing', async () => {
  const bad = new Wallet(KEYS[2], provider);
  const balance = await provider.getBalance(bad.address);
  const nonce = await provider.getTransactionCount(bad.address);
  const fees = await provider.getFeeData();
  const block = await provider.getBlock('latest');
  const tx = { to: other, value: 1n, gasLimit: 21000n, gasPrice: fees.gasPrice, type: 0, chainId: CHAIN_ID, nonce };
  const send = (raw) => provider.send('eth_sendRawTransaction', [raw]);
  const cases = [
    ['malformed RLP', '0xf86b8085', /rlp|decode|malformed/i],
    ['not hex', '0xzz', /hex|invalid/i],
    ['wrong chain id', await bad.signTransaction({ ...tx, chainId: CHAIN_ID + 1n }), /chain/i],
    ['nonce too high', await bad.signTransaction({ ...tx, nonce: nonce + 1000 }), /nonce too high/i],
    ['gas above the block', await bad.signTransaction({ ...tx, gasLimit: block.gasLimit + 1n }), /gas limit/i],
    ['fee below the minimum', await bad.signTransaction({ ...tx, gasPrice: 1n }), /fee|price|underpriced/i],
    ['gas below intrinsic', await bad.signTransaction({ ...tx, gasLimit: 20000n }), /intrinsic gas too low/i],
    ['unaffordable', await bad.signTransaction({ ...tx, value: balance * 2n }), /insufficient funds/i],
  ];
  // A bad signature: flip a byte of s in a valid signed transaction.
  const good = Transaction.from(await bad.signTransaction(tx));
  const sig = good.signature.clone();
  const s = BigInt(sig.s) ^ 1n;
  const forged = Transaction.from({ ...good.toJSON(), signature: { r: sig.r, s: `0x${s.toString(16).padStart(64, '0')}`, v: sig.v } });
  cases.push(['bad signature (other sender)', forged.serialized, /insufficient funds|nonce|sender|signature/i]);
  for (const [what, raw, pattern] of cases) {
    await assert.rejects(send(raw), (e) => {
      const msg = e.error?.message ?? e.message;
      assert.match(msg, pattern, `${what}: ${msg}`);
      return true;
    }, what);
  }
  // Nonce too low: use a nonce, then use it again.
  await (await bad.sendTransaction({ to: other, value: 1n })).wait();
  const reused = await bad.signTransaction({ ...tx, nonce });
  await assert.rejects(send(reused), (e) => {
    assert.match(e.error?.message ?? e.message, /nonce too low|already known/i);
    return true;
  });
  assert.equal(await provider.getTransactionCount(bad.address), nonce + 1);
});

test('eth_subscribe newHeads over WebSocket', async () => {
  const ws = new WebSocketProvider(WS_URL);
  try {
    const heads = [];
    const two = new Promise((resolve) => {
      ws.on('block', (n) => {
        heads.push(n);
        if (heads.length >= 2) resolve();
      });
    });
    // Rounds run when there is work: keep some coming (bounded).
    for (let i = 0; i < 30 && heads.length < 2; i++) {
      await (await wallet.sendTransaction({ to: other, value: 1n })).wait();
      await Promise.race([two, new Promise((r) => setTimeout(r, 200))]);
    }
    await within(two, 10000, 'two new heads');
    assert.ok(heads[1] > heads[0]);
  } finally {
    await ws.destroy();
  }
});
