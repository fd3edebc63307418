// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// Calls that fail in the ways Ethereum tooling must report: a reason
/// string, a custom error, a panic; and one that succeeds and logs.
contract Reverter {
    error Unauthorized(address caller, uint256 code);

    uint256 public value;

    event ValueSet(address indexed by, uint256 value);

    function fail() external pure {
        require(false, "Reverter: always fails");
    }

    function failCustom() external view {
        revert Unauthorized(msg.sender, 42);
    }

    function failPanic(uint256 d) external pure returns (uint256) {
        return 10 / d;
    }

    function set(uint256 v) external {
        require(v != 13, "Reverter: unlucky");
        value = v;
        emit ValueSet(msg.sender, v);
    }

    function blockInfo() external view returns (uint256 number, uint256 timestamp, uint256 chainId, uint256 basefee, uint256 gaslimit) {
        return (block.number, block.timestamp, block.chainid, block.basefee, block.gaslimit);
    }
}
