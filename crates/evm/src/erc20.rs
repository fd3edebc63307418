//! A minimal ERC-20, hand-assembled (see [`crate::asm`]), for benchmarks
//! and tests; and the calldata of its methods.
//!
//! Behaviour (Solidity-like pseudocode; not compiled by solc):
//!
//! ```text
//! constructor: balance[msg.sender] = SUPPLY; totalSupply = SUPPLY
//! transfer(address to, uint256 amount) returns (bool)   // 0xa9059cbb
//!     require(balance[msg.sender] >= amount)            // else revert, no data
//!     balance[msg.sender] -= amount; balance[to] += amount
//!     emit Transfer(msg.sender, to, amount); return true
//! balanceOf(address owner) returns (uint256)            // 0x70a08231
//! totalSupply() returns (uint256)                        // 0x18160ddd
//! anything else: revert
//! ```
//!
//! Storage layout (not Solidity's): the balance of `a` is at slot
//! `uint256(a)` (addresses are below 2^160, so no slot collides with the
//! total supply at slot `2^256 - 1`). `to` is masked to 160 bits.

use crate::asm::{Asm, op};
use crate::tx::U256;

/// `keccak256("Transfer(address,address,uint256)")`.
pub const TRANSFER_TOPIC: [u8; 32] = [
    0xdd, 0xf2, 0x52, 0xad, 0x1b, 0xe2, 0xc8, 0x9b, 0x69, 0xc2, 0xb0, 0x68, 0xfc, 0x37, 0x8d, 0xaa,
    0x95, 0x2b, 0xa7, 0xf1, 0x63, 0xc4, 0xa1, 0x16, 0x28, 0xf5, 0x5a, 0x4d, 0xf5, 0x23, 0xb3, 0xef,
];

/// Selector of `transfer(address,uint256)`.
pub const TRANSFER: [u8; 4] = [0xa9, 0x05, 0x9c, 0xbb];
/// Selector of `balanceOf(address)`.
pub const BALANCE_OF: [u8; 4] = [0x70, 0xa0, 0x82, 0x31];
/// Selector of `totalSupply()`.
pub const TOTAL_SUPPLY: [u8; 4] = [0x18, 0x16, 0x0d, 0xdd];

const SUPPLY_SLOT: [u8; 32] = [0xff; 32];
const ADDRESS_MASK: [u8; 20] = [0xff; 20];

fn return_word(a: Asm) -> Asm {
    a.push_u(0)
        .op(op::MSTORE)
        .push_u(32)
        .push_u(0)
        .op(op::RETURN)
}

/// The deployed code.
pub fn runtime_code() -> Vec<u8> {
    let a = Asm::new()
        .push_u(0)
        .op(op::CALLDATALOAD)
        .push_u(0xe0)
        .op(op::SHR)
        .op(op::DUP1)
        .push(&TRANSFER)
        .op(op::EQ)
        .push_label("transfer")
        .op(op::JUMPI)
        .op(op::DUP1)
        .push(&BALANCE_OF)
        .op(op::EQ)
        .push_label("balance_of")
        .op(op::JUMPI)
        .op(op::DUP1)
        .push(&TOTAL_SUPPLY)
        .op(op::EQ)
        .push_label("total_supply")
        .op(op::JUMPI)
        .label("fail")
        .push_u(0)
        .op(op::DUP1)
        .op(op::REVERT)
        // transfer(to, amount)
        .label("transfer")
        .push_u(0x24)
        .op(op::CALLDATALOAD) // amount
        .op(op::CALLER)
        .op(op::SLOAD) // amount, bal
        .op(op::DUP2)
        .op(op::DUP2)
        .op(op::LT) // bal < amount
        .push_label("fail")
        .op(op::JUMPI)
        .op(op::DUP2)
        .op(op::SWAP1)
        .op(op::SUB) // amount, bal - amount
        .op(op::CALLER)
        .op(op::SSTORE) // amount
        .push_u(4)
        .op(op::CALLDATALOAD)
        .push(&ADDRESS_MASK)
        .raw(&[0x16]) // AND: amount, to
        .op(op::DUP1)
        .op(op::SLOAD) // amount, to, to_bal
        .op(op::DUP3)
        .op(op::ADD) // amount, to, to_bal + amount
        .op(op::SWAP1)
        .op(op::SSTORE) // amount
        .push_u(0)
        .op(op::MSTORE) // mem[0] = amount
        .push_u(4)
        .op(op::CALLDATALOAD)
        .push(&ADDRESS_MASK)
        .raw(&[0x16]) // to
        .op(op::CALLER)
        .push(&TRANSFER_TOPIC)
        .push_u(32)
        .push_u(0)
        .op(op::LOG3);
    let a = return_word(a.push_u(1))
        // balanceOf(owner)
        .label("balance_of")
        .push_u(4)
        .op(op::CALLDATALOAD)
        .op(op::SLOAD);
    let a = return_word(a)
        .label("total_supply")
        .push(&SUPPLY_SLOT)
        .op(op::SLOAD);
    return_word(a).build()
}

/// Init code minting `supply` to the deployer.
pub fn init_code(supply: U256) -> Vec<u8> {
    let supply = supply.to_be_bytes::<32>();
    let constructor = Asm::new()
        .push(&supply)
        .op(op::CALLER)
        .op(op::SSTORE)
        .push(&supply)
        .push(&SUPPLY_SLOT)
        .op(op::SSTORE)
        .build();
    let runtime = runtime_code();
    let len = u16::try_from(runtime.len())
        .unwrap_or(u16::MAX)
        .to_be_bytes();
    let offset = u16::try_from(constructor.len() + 14)
        .unwrap_or(u16::MAX)
        .to_be_bytes();
    let mut out = constructor;
    out.extend_from_slice(&[
        0x61,
        len[0],
        len[1],
        0x80,
        0x61,
        offset[0],
        offset[1],
        0x60,
        0x00,
        0x39,
        0x60,
        0x00,
        0xf3,
        op::INVALID,
    ]);
    out.extend_from_slice(&runtime);
    out
}

/// Calldata of `transfer(to, amount)`.
pub fn transfer_calldata(to: &[u8; 20], amount: U256) -> Vec<u8> {
    let mut out = Vec::with_capacity(68);
    out.extend_from_slice(&TRANSFER);
    out.extend_from_slice(&[0; 12]);
    out.extend_from_slice(to);
    out.extend_from_slice(&amount.to_be_bytes::<32>());
    out
}

/// Calldata of `balanceOf(owner)`.
pub fn balance_of_calldata(owner: &[u8; 20]) -> Vec<u8> {
    let mut out = Vec::with_capacity(36);
    out.extend_from_slice(&BALANCE_OF);
    out.extend_from_slice(&[0; 12]);
    out.extend_from_slice(owner);
    out
}
