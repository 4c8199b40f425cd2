import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeVxlan, encodeVxlan, isGroupMac } from '../../../src/testbed/vxlan-frame.js';

const inner = Uint8Array.from([
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // destination: broadcast
  0x02, 0x68, 0x62, 0x00, 0x00, 0x07, // source
  0x08, 0x06, // ARP
  1, 2, 3,
]);

void describe('decodeVxlan', () => {
  void test('reads the VNI and the inner MACs of a kernel-style datagram', () => {
    const frame = decodeVxlan(encodeVxlan(42, inner));
    assert.deepEqual(frame, { vni: 42, dstMac: 0xffffffffffff, srcMac: 0x026862000007, innerBytes: inner.length });
    assert.ok(isGroupMac(frame!.dstMac));
    assert.ok(!isGroupMac(frame!.srcMac));
  });

  void test('a datagram with remote checksum offload (as the gateways send them) is accepted', () => {
    const rco = encodeVxlan(42, inner);
    rco[1] = 0x20;
    rco[7] = 0x91;
    assert.equal(decodeVxlan(rco)?.vni, 42);
  });

  void test('short datagrams, garbage, a missing VNI flag and set reserved bits are rejected, not thrown', () => {
    assert.equal(decodeVxlan(new Uint8Array(0)), undefined);
    assert.equal(decodeVxlan(new Uint8Array(21).fill(0x08)), undefined);
    const noFlag = encodeVxlan(42, inner);
    noFlag[0] = 0;
    assert.equal(decodeVxlan(noFlag), undefined);
    const reserved = encodeVxlan(42, inner);
    reserved[7] = 1;
    assert.equal(decodeVxlan(reserved), undefined);
    const otherFlag = encodeVxlan(42, inner);
    otherFlag[1] = 0x40;
    assert.equal(decodeVxlan(otherFlag), undefined);
    assert.equal(decodeVxlan(Buffer.from('\x08hello, this is not a vxlan frame')), undefined);
  });
});
