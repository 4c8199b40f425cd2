// Reads just enough of a VXLAN datagram (RFC 7348: 8-byte header, then an
// Ethernet frame) for the link emulator to switch it: the VNI and the inner
// destination and source MAC addresses. Datagrams may carry Linux's remote
// checksum offload (RCO) extension, which the gateways' VXLAN devices use so
// that inner checksums survive a userspace hop (see netns.ts).
// Must never: throw on malformed input; a bad datagram yields undefined.

const VXLAN_HEADER_BYTES = 8;
const ETHERNET_HEADER_BYTES = 14;
/** The I flag (first octet): the VNI field is valid. */
const FLAG_VNI = 0x08;
/** The RCO flag (second octet); with it, the last octet holds the checksum start and offset. */
const FLAG_RCO = 0x20;

export interface VxlanFrame {
  vni: number;
  /** Inner destination MAC as a 48-bit integer. */
  dstMac: number;
  /** Inner source MAC as a 48-bit integer. */
  srcMac: number;
  /** Bytes of the inner Ethernet frame. */
  innerBytes: number;
}

function readMac(bytes: Uint8Array, offset: number): number {
  let mac = 0;
  for (let i = 0; i < 6; i++) mac = mac * 256 + (bytes[offset + i] as number);
  return mac;
}

export function decodeVxlan(datagram: Uint8Array): VxlanFrame | undefined {
  if (datagram.length < VXLAN_HEADER_BYTES + ETHERNET_HEADER_BYTES) return undefined;
  // Like the kernel with only RCO enabled: the I flag set, every other flag and reserved bit clear.
  const rco = datagram[1] === FLAG_RCO;
  const reservedClear = (datagram[1] === 0 || rco) && datagram[2] === 0 && datagram[3] === 0 && (rco || datagram[7] === 0);
  if (datagram[0] !== FLAG_VNI || !reservedClear) return undefined;
  const vni = ((datagram[4] as number) << 16) | ((datagram[5] as number) << 8) | (datagram[6] as number);
  return {
    vni,
    dstMac: readMac(datagram, VXLAN_HEADER_BYTES),
    srcMac: readMac(datagram, VXLAN_HEADER_BYTES + 6),
    innerBytes: datagram.length - VXLAN_HEADER_BYTES,
  };
}

/** Broadcast and multicast MACs have the group bit, the low bit of the first octet. */
export function isGroupMac(mac: number): boolean {
  return Math.floor(mac / 2 ** 40) % 2 === 1;
}

/** Builds a VXLAN datagram around an inner frame; the emulator's tests use it to speak like a kernel. */
export function encodeVxlan(vni: number, innerFrame: Uint8Array): Uint8Array {
  const datagram = new Uint8Array(VXLAN_HEADER_BYTES + innerFrame.length);
  datagram[0] = FLAG_VNI;
  datagram[4] = (vni >>> 16) & 0xff;
  datagram[5] = (vni >>> 8) & 0xff;
  datagram[6] = vni & 0xff;
  datagram.set(innerFrame, VXLAN_HEADER_BYTES);
  return datagram;
}
