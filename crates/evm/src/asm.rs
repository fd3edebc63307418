//! A tiny EVM assembler with labels, for hand-written contracts (the
//! ERC-20 of the benchmark, test contracts). Not a general tool.
//!
//! ```
//! use atoll_evm::asm::{Asm, op};
//!
//! // Returns the 32-byte word 42.
//! let code = Asm::new()
//!     .push_u(42).push_u(0).op(op::MSTORE)
//!     .push_u(32).push_u(0).op(op::RETURN)
//!     .build();
//! assert_eq!(code, [0x60, 42, 0x60, 0, 0x52, 0x60, 32, 0x60, 0, 0xf3]);
//! ```

use std::collections::BTreeMap;

/// Opcodes used by the contracts here.
#[allow(missing_docs, reason = "opcode names are their documentation")]
pub mod op {
    pub const STOP: u8 = 0x00;
    pub const ADD: u8 = 0x01;
    pub const SUB: u8 = 0x03;
    pub const LT: u8 = 0x10;
    pub const GT: u8 = 0x11;
    pub const EQ: u8 = 0x14;
    pub const ISZERO: u8 = 0x15;
    pub const SHR: u8 = 0x1c;
    pub const CALLER: u8 = 0x33;
    pub const CALLVALUE: u8 = 0x34;
    pub const CALLDATALOAD: u8 = 0x35;
    pub const CALLDATASIZE: u8 = 0x36;
    pub const CODECOPY: u8 = 0x39;
    pub const POP: u8 = 0x50;
    pub const MLOAD: u8 = 0x51;
    pub const MSTORE: u8 = 0x52;
    pub const SLOAD: u8 = 0x54;
    pub const SSTORE: u8 = 0x55;
    pub const JUMP: u8 = 0x56;
    pub const JUMPI: u8 = 0x57;
    pub const JUMPDEST: u8 = 0x5b;
    pub const DUP1: u8 = 0x80;
    pub const DUP2: u8 = 0x81;
    pub const DUP3: u8 = 0x82;
    pub const SWAP1: u8 = 0x90;
    pub const SWAP2: u8 = 0x91;
    pub const LOG1: u8 = 0xa1;
    pub const LOG3: u8 = 0xa3;
    pub const RETURN: u8 = 0xf3;
    pub const REVERT: u8 = 0xfd;
    pub const INVALID: u8 = 0xfe;
}

enum Item {
    Bytes(Vec<u8>),
    Label(&'static str),
    PushLabel(&'static str),
}

/// A program being assembled.
#[derive(Default)]
pub struct Asm {
    items: Vec<Item>,
}

impl Asm {
    /// An empty program.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an opcode.
    pub fn op(mut self, op: u8) -> Self {
        self.items.push(Item::Bytes(vec![op]));
        self
    }

    /// Appends `PUSHn bytes` (1 to 32 bytes; an empty slice pushes a zero
    /// byte).
    pub fn push(mut self, bytes: &[u8]) -> Self {
        let bytes = if bytes.is_empty() { &[0u8][..] } else { bytes };
        let n = bytes.len().min(32);
        let mut out = vec![0x5f + u8::try_from(n).unwrap_or(32)];
        out.extend_from_slice(bytes.get(..n).unwrap_or_default());
        self.items.push(Item::Bytes(out));
        self
    }

    /// Appends the shortest push of `v`.
    pub fn push_u(self, v: u64) -> Self {
        let be = v.to_be_bytes();
        let skip = be.iter().take_while(|b| **b == 0).count().min(7);
        self.push(be.get(skip..).unwrap_or_default())
    }

    /// Defines `name` here (emits a `JUMPDEST`).
    pub fn label(mut self, name: &'static str) -> Self {
        self.items.push(Item::Label(name));
        self
    }

    /// Pushes the offset of label `name` (`PUSH2`).
    pub fn push_label(mut self, name: &'static str) -> Self {
        self.items.push(Item::PushLabel(name));
        self
    }

    /// Appends raw bytes.
    pub fn raw(mut self, bytes: &[u8]) -> Self {
        self.items.push(Item::Bytes(bytes.to_vec()));
        self
    }

    /// The bytecode; unknown labels assemble to offset 0xffff (a jump
    /// there fails).
    pub fn build(&self) -> Vec<u8> {
        let mut labels = BTreeMap::new();
        let mut pc = 0usize;
        for item in &self.items {
            match item {
                Item::Bytes(b) => pc += b.len(),
                Item::Label(name) => {
                    labels.insert(*name, pc);
                    pc += 1;
                }
                Item::PushLabel(_) => pc += 3,
            }
        }
        let mut out = Vec::with_capacity(pc);
        for item in &self.items {
            match item {
                Item::Bytes(b) => out.extend_from_slice(b),
                Item::Label(_) => out.push(op::JUMPDEST),
                Item::PushLabel(name) => {
                    let at = labels
                        .get(name)
                        .and_then(|p| u16::try_from(*p).ok())
                        .unwrap_or(u16::MAX);
                    out.push(0x61);
                    out.extend_from_slice(&at.to_be_bytes());
                }
            }
        }
        out
    }
}

/// Init code that deploys `runtime` as is (runs no constructor).
pub fn deployer(runtime: &[u8]) -> Vec<u8> {
    // PUSH2 len, DUP1, PUSH2 offset, PUSH1 0, CODECOPY, PUSH1 0, RETURN
    let len = u16::try_from(runtime.len())
        .unwrap_or(u16::MAX)
        .to_be_bytes();
    let header_len: u16 = 14;
    let off = header_len.to_be_bytes();
    let mut out = vec![
        0x61,
        len[0],
        len[1],
        0x80,
        0x61,
        off[0],
        off[1],
        0x60,
        0x00,
        0x39,
        0x60,
        0x00,
        0xf3,
        op::INVALID,
    ];
    out.extend_from_slice(runtime);
    out
}
