// Oasis's own TypeScript SDK (@oasisprotocol/client, unchanged) against
// atoll's Oasis gRPC node API over gRPC-web: the chain context, an account,
// a consensus transfer built and signed by the SDK and submitted with
// SubmitTx, balances and nonces after it, and a refused transfer whose error
// carries Oasis's module and code. Run by tests/e2e/oasis_clients.rs with
// ATOLL_GRPC_WEB (the node's gRPC URL), ATOLL_DEV_SEED (hex ed25519 seed of
// a funded account) and ATOLL_TO (a bech32 address).
import {test} from 'node:test';
import assert from 'node:assert/strict';
import XMLHttpRequest from 'xhr2';
import * as oasis from '@oasisprotocol/client';

// grpc-web calls through XMLHttpRequest; Node.js has none.
globalThis.XMLHttpRequest = XMLHttpRequest;

const nic = new oasis.client.NodeInternal(process.env.ATOLL_GRPC_WEB);
const seed = oasis.misc.fromHex(process.env.ATOLL_DEV_SEED);
const signer = oasis.signature.NaclSigner.fromSeed(seed, 'this key is not important');
const from = await oasis.staking.addressFromPublicKey(signer.public());
const to = oasis.staking.addressFromBech32(process.env.ATOLL_TO);

async function balance(addr) {
    const a = await nic.stakingAccount({height: oasis.consensus.HEIGHT_LATEST, owner: addr});
    return oasis.quantity.toBigInt(a.general?.balance ?? new Uint8Array());
}

async function nonce(addr) {
    return BigInt(
        await nic.consensusGetSignerNonce({
            account_address: addr,
            height: oasis.consensus.HEIGHT_LATEST,
        }),
    );
}

async function transfer(amount, n) {
    const tw = oasis.staking
        .transferWrapper()
        .setNonce(n)
        .setFeeAmount(oasis.quantity.fromBigInt(0n))
        .setFeeGas(100000n)
        .setBody({to, amount: oasis.quantity.fromBigInt(amount)});
    const chainContext = await nic.consensusGetChainContext();
    await tw.sign(new oasis.signature.BlindContextSigner(signer), chainContext);
    await tw.submit(nic);
    return tw.hash();
}

test('chain context and status', async () => {
    const ctx = await nic.consensusGetChainContext();
    assert.match(ctx, /^[0-9a-f]{64}$/);
    const status = await nic.consensusGetStatus();
    assert.equal(status.chain_context, ctx);
    assert.ok(BigInt(status.latest_height) >= 1n);
    const block = await nic.consensusGetBlock(status.latest_height);
    assert.equal(BigInt(block.height), BigInt(status.latest_height));
    const epoch = await nic.beaconGetEpoch(oasis.consensus.HEIGHT_LATEST);
    assert.ok(BigInt(epoch) >= 0n);
});

test('a transfer built and signed by the SDK lands', async () => {
    const before = await balance(from);
    const toBefore = await balance(to);
    const n = await nonce(from);
    assert.ok(before > 1000n, `the sender is funded: ${before}`);
    await transfer(1000n, n);
    assert.equal(await balance(from), before - 1000n);
    assert.equal(await balance(to), toBefore + 1000n);
    assert.equal(await nonce(from), n + 1n);
    console.log(`ATOLL_RESULT ${JSON.stringify({to_balance: String(toBefore + 1000n)})}`);
});

test('a failed transfer carries Oasis module and code and moves nothing', async () => {
    const before = await balance(from);
    const toBefore = await balance(to);
    const n = await nonce(from);
    await assert.rejects(transfer(before * 10n, n), (e) => {
        assert.equal(e.oasisModule, 'staking', String(e));
        assert.ok(e.oasisCode > 0, String(e));
        return true;
    });
    // It failed in its block: as in Oasis, the nonce is used and the (zero)
    // fee paid, nothing else moves.
    assert.equal(await balance(from), before);
    assert.equal(await balance(to), toBefore);
    assert.equal(await nonce(from), n + 1n);
});

test('garbage through SubmitTx is refused as malformed and changes nothing', async () => {
    const n = await nonce(from);
    const garbage = {
        untrusted_raw_value: new Uint8Array([0xff, 0x00, 0x13]),
        signature: {public_key: signer.public(), signature: new Uint8Array(64)},
    };
    await assert.rejects(nic.consensusSubmitTx(garbage), (e) => {
        assert.equal(e.oasisModule, 'consensus', String(e));
        assert.equal(e.oasisCode, 1, String(e));
        return true;
    });
    assert.equal(await nonce(from), n);
});
