// Oasis's runtime SDK client (@oasisprotocol/client-rt, unchanged) against
// atoll's Oasis gRPC API over gRPC-web, on the plain ParaTime: a consensus
// allowance, then a deposit into the ParaTime, a transfer there and a
// withdrawal back, each built and signed by the SDK (its transactions carry
// an explicit `consensus_messages` in the fee), and the balances the SDK
// queries after each. Run by tests/e2e/oasis_clients.rs with ATOLL_GRPC_WEB,
// ATOLL_DEV_SEED (hex ed25519 seed of a funded account), ATOLL_TO (bech32)
// and ATOLL_RUNTIME_ID (hex).
import {test} from 'node:test';
import assert from 'node:assert/strict';
import XMLHttpRequest from 'xhr2';
import * as oasis from '@oasisprotocol/client';
import * as oasisRT from '@oasisprotocol/client-rt';

globalThis.XMLHttpRequest = XMLHttpRequest;

const nic = new oasis.client.NodeInternal(process.env.ATOLL_GRPC_WEB);
const signer = oasis.signature.NaclSigner.fromSeed(
    oasis.misc.fromHex(process.env.ATOLL_DEV_SEED),
    'this key is not important',
);
const csigner = new oasis.signature.BlindContextSigner(signer);
const from = oasis.staking.addressFromPublicKey(signer.public());
const to = oasis.staking.addressFromBech32(process.env.ATOLL_TO);
const runtimeId = oasis.misc.fromHex(process.env.ATOLL_RUNTIME_ID);
const NATIVE = new Uint8Array();
const q = (n) => oasis.quantity.fromBigInt(n);

const accounts = new oasisRT.accounts.Wrapper(runtimeId);
const consensusAccounts = new oasisRT.consensusAccounts.Wrapper(runtimeId);
const core = new oasisRT.core.Wrapper(runtimeId);

async function rtBalance(addr) {
    const r = await accounts.queryBalances().setArgs({address: addr}).query(nic);
    const balances = r.balances;
    if (balances instanceof Map) {
        for (const [k, v] of balances) {
            if (k.length === 0) return oasis.quantity.toBigInt(v);
        }
        return 0n;
    }
    return 0n;
}

async function rtNonce(addr) {
    return BigInt(await accounts.queryNonce().setArgs({address: addr}).query(nic));
}

async function gasPrice() {
    const prices = await core.queryMinGasPrice().query(nic);
    if (prices instanceof Map) {
        for (const [k, v] of prices) {
            if (k.length === 0) return oasis.quantity.toBigInt(v);
        }
    }
    return 0n;
}

async function run(tw, gas, messages) {
    const chainContext = await nic.consensusGetChainContext();
    const price = await gasPrice();
    tw.setSignerInfo([
        {address_spec: {signature: {ed25519: signer.public()}}, nonce: await rtNonce(from)},
    ])
        .setFeeAmount([q(price * gas), NATIVE])
        .setFeeGas(gas)
        .setFeeConsensusMessages(messages);
    await tw.sign([csigner], chainContext);
    return tw.submit(nic);
}

test('deposit, transfer and withdraw through the ParaTime', async () => {
    const chainContext = await nic.consensusGetChainContext();
    // Let the ParaTime's account take the deposit from the consensus account.
    const account = await nic.stakingAccount({height: oasis.consensus.HEIGHT_LATEST, owner: from});
    const allow = oasis.staking
        .allowWrapper()
        .setNonce(account.general?.nonce ?? 0)
        .setFeeAmount(q(0n))
        .setFeeGas(100000n)
        .setBody({
            beneficiary: oasis.staking.addressFromRuntimeID(runtimeId),
            amount_change: q(10_000_000n),
        });
    await allow.sign(csigner, chainContext);
    await allow.submit(nic);

    const before = await rtBalance(from);
    await run(consensusAccounts.callDeposit().setBody({amount: [q(5_000_000n), NATIVE]}), 100000n, 1);
    // The deposit is credited when its consensus message's result comes back
    // (a later round): wait for it, bounded.
    let afterDeposit = before;
    for (let i = 0; i < 300 && afterDeposit <= before; i++) {
        await new Promise((r) => setTimeout(r, 200));
        afterDeposit = await rtBalance(from);
    }
    assert.ok(afterDeposit > before, `${before} -> ${afterDeposit}`);

    const toBefore = await rtBalance(to);
    await run(accounts.callTransfer().setBody({to, amount: [q(1_000n), NATIVE]}), 100000n, 0);
    assert.equal(await rtBalance(to), toBefore + 1_000n);

    const beforeWithdraw = await rtBalance(from);
    await run(consensusAccounts.callWithdraw().setBody({amount: [q(2_000n), NATIVE]}), 100000n, 1);
    assert.ok((await rtBalance(from)) <= beforeWithdraw - 2_000n);
    console.log(`ATOLL_RT_RESULT ${JSON.stringify({to_rt_balance: String(toBefore + 1_000n)})}`);
});

test('a runtime call that fails answers its module and code', async () => {
    const balance = await rtBalance(from);
    await assert.rejects(
        run(accounts.callTransfer().setBody({to, amount: [q(balance * 10n), NATIVE]}), 100000n, 0),
        (e) => {
            // Refused by the runtime's check (a coded gRPC error) or failed in
            // its round (the call result's `fail`): accounts' error either way.
            assert.equal(e.oasisModule ?? e.module, 'accounts', `${e} ${JSON.stringify(e)}`);
            assert.ok((e.oasisCode ?? e.code) > 0);
            return true;
        },
    );
});
