// Telling this gateway's network from another gateway's on the same host,
// from listings as nft and ip print them, and refusing a clash with a
// stable code that names what to change.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HearthError } from '../../../src/model/errors.js';
import {
  findNetworkClash, parseAddresses, parseNftTables, parseTableMarker, renderTableMarker,
  type GatewayNetwork, type NetworkClaims, type TableClaim,
} from '../../../src/net/claims.js';

const ID_A = 'aaaaaaaaaaaaaaaa0000000000000000000000000000000000000000000000ff';
const ID_B = 'bbbbbbbbbbbbbbbb0000000000000000000000000000000000000000000000ff';

// As `nft -t list ruleset` prints it: a marked table (both families), one
// written before markers (rules only), and a table of another tool.
const LISTING = `table bridge hearth {
\tcomment "hearth gateway=aaaaaaaaaaaaaaaa bridge=hearth0 subnet=10.213.0.0/24"
\tset ports {
\t\ttype ifname
\t}
}
table inet hearth {
\tcomment "hearth gateway=aaaaaaaaaaaaaaaa bridge=hearth0 subnet=10.213.0.0/24"
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t\tiifname "hearth0" ct state established,related accept
\t}
}
table inet hit_33b3b {
\tset same_slice_addrs {
\t\ttype ipv4_addr . ipv4_addr
\t}

\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t\tiifname "hit33b3b" ct state established,related accept
\t\tiifname "hit33b3b" icmp type echo-request accept
\t\tiifname "hit33b3b" drop
\t}

\tchain postrouting {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\tip saddr 10.197.126.0/24 oifname != "hit33b3b" masquerade
\t\toifname "hit33b3b" ip saddr 10.197.126.0/24 ct status dnat masquerade
\t}
}
table ip filter {
\tchain INPUT {
\t\ttype filter hook input priority filter; policy accept;
\t\tcomment "hearth gateway=cccccccccccccccc bridge=fake0 subnet=10.1.0.0/24"
\t\tiifname "eth0" accept
\t}
}
`;

const IP_JSON = JSON.stringify([
  { ifindex: 1, ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8 }] },
  { ifindex: 2, ifname: 'eth0', addr_info: [{ family: 'inet', local: '192.168.1.20', prefixlen: 24 }] },
  { ifindex: 3, ifname: 'hearth0', addr_info: [{ family: 'inet', local: '10.213.0.1', prefixlen: 24 }] },
  {},
]);

function claimsOf(tables: TableClaim[], addresses: NetworkClaims['addresses'] = []): NetworkClaims {
  return { tables, addresses };
}

function clash(code: string, field: string) {
  return (err: HearthError | undefined): void => {
    assert.ok(err instanceof HearthError, 'refused');
    assert.equal(err.code, code, err.message);
    assert.equal(err.extra['field'], field, err.message);
    assert.match(err.message, /another|outside|already on link/);
  };
}

describe('the table marker', () => {
  test('round-trips, keeps 16 id digits, and fits an nft comment (128 bytes)', () => {
    const marker = renderTableMarker({ bridge: 'a'.repeat(15), subnet: '10.213.128.0/17', gatewayId: ID_A.toUpperCase() });
    assert.ok(marker.length <= 128, marker);
    assert.deepEqual(parseTableMarker(marker), { gatewayId: 'aaaaaaaaaaaaaaaa', bridge: 'a'.repeat(15), subnet: '10.213.128.0/17' });
    assert.deepEqual(parseTableMarker(renderTableMarker({ bridge: 'hearth0', subnet: '10.213.0.0/24' })), { bridge: 'hearth0', subnet: '10.213.0.0/24' });
  });

  test('other comments are not markers', () => {
    for (const text of ['', 'hearth', 'managed by docker', 'hearth bridge=x', 'hearth gateway=XYZ bridge=a subnet=b']) {
      assert.equal(parseTableMarker(text), undefined, text);
    }
  });
});

describe('reading the listings', () => {
  test('nft: one claim per table name, from its marker, from hearth rules, or none', () => {
    assert.deepEqual(parseNftTables(LISTING), [
      { table: 'hearth', gatewayId: 'aaaaaaaaaaaaaaaa', bridge: 'hearth0', subnet: '10.213.0.0/24' },
      { table: 'hit_33b3b', bridge: 'hit33b3b', subnet: '10.197.126.0/24' },
      // A comment inside a chain is not the table's: this table is not hearth's.
      { table: 'filter' },
    ]);
    assert.deepEqual(parseNftTables(''), []);
  });

  test('ip: IPv4 addresses with their link and prefix', () => {
    assert.deepEqual(parseAddresses(IP_JSON), [
      { link: 'lo', address: '127.0.0.1', prefixLength: 8 },
      { link: 'eth0', address: '192.168.1.20', prefixLength: 24 },
      { link: 'hearth0', address: '10.213.0.1', prefixLength: 24 },
    ]);
    assert.deepEqual(parseAddresses(''), []);
  });
});

describe('findNetworkClash', () => {
  const first: GatewayNetwork = { bridge: 'hearth0', subnet: '10.213.0.0/24', table: 'hearth', gatewayId: ID_A };
  const host = claimsOf(parseNftTables(LISTING), parseAddresses(IP_JSON));

  test("a gateway's own tables and bridge are no clash, on every start", () => {
    assert.equal(findNetworkClash(first, host), undefined);
    assert.equal(findNetworkClash(first, claimsOf([])), undefined);
  });

  test('a second gateway on its own bridge, subnet and table is no clash', () => {
    assert.equal(findNetworkClash({ bridge: 'hearth1', subnet: '10.214.0.0/24', table: 'hearth_hearth1', gatewayId: ID_B }, host), undefined);
  });

  test("another gateway's table is refused, whatever bridge and subnet ask for it", () => {
    clash('name_taken', 'table')(findNetworkClash({ bridge: 'hearth1', subnet: '10.214.0.0/24', table: 'hearth', gatewayId: ID_B }, host));
    // Same everything but another id: two data dirs initialised alike.
    clash('name_taken', 'table')(findNetworkClash({ ...first, gatewayId: ID_B }, host));
    const err = findNetworkClash({ bridge: 'hearth1', subnet: '10.214.0.0/24', table: 'hearth', gatewayId: ID_B }, host);
    assert.match(err?.message ?? '', /nft table hearth is used by another hearth gateway \(id aaaaaaaaaaaaaaaa…\) on this host \(nft table hearth, bridge hearth0, subnet 10\.213\.0\.0\/24\)/);
    assert.match(err?.message ?? '', /--nft-table/);
    assert.deepEqual(err?.extra['other'], { table: 'hearth', bridge: 'hearth0', subnet: '10.213.0.0/24', gateway: 'aaaaaaaaaaaaaaaa' });
  });

  test('a table of the same name that hearth did not write is refused too', () => {
    const err = findNetworkClash({ bridge: 'br9', subnet: '10.9.0.0/24', table: 'filter' }, host);
    clash('name_taken', 'table')(err);
    assert.match(err?.message ?? '', /something other than hearth/);
  });

  test("another gateway's bridge is refused, from its marker or from an address outside the subnet", () => {
    clash('name_taken', 'bridge')(findNetworkClash({ bridge: 'hearth0', subnet: '10.214.0.0/24', table: 'hearth_b', gatewayId: ID_B }, host));
    const bridgeOnly = claimsOf([], [{ link: 'br-lan', address: '192.168.7.1', prefixLength: 24 }]);
    clash('name_taken', 'bridge')(findNetworkClash({ bridge: 'br-lan', subnet: '10.214.0.0/24', table: 'hearth_br_lan' }, bridgeOnly));
  });

  test("an overlapping subnet is refused, from another gateway's marker or an address on another link", () => {
    clash('subnet_taken', 'subnet')(findNetworkClash({ bridge: 'hearth1', subnet: '10.213.0.0/16', table: 'hearth_hearth1', gatewayId: ID_B }, host));
    clash('subnet_taken', 'subnet')(findNetworkClash({ bridge: 'hearth1', subnet: '10.197.126.0/25', table: 'hearth_hearth1', gatewayId: ID_B }, host));
    const leftover = claimsOf([], [{ link: 'oldbr', address: '10.214.0.1', prefixLength: 24 }]);
    clash('subnet_taken', 'subnet')(findNetworkClash({ bridge: 'hearth1', subnet: '10.214.0.0/24', table: 'hearth_hearth1' }, leftover));
    // An address in a wider LAN that does not fall inside the subnet is no clash.
    const lan = claimsOf([], [{ link: 'eth0', address: '10.0.0.5', prefixLength: 8 }]);
    assert.equal(findNetworkClash({ bridge: 'hearth1', subnet: '10.214.0.0/24', table: 'hearth_hearth1' }, lan), undefined);
  });

  test('tables from before markers are ours when table, bridge and subnet all match', () => {
    const legacy = claimsOf([{ table: 'hearth', bridge: 'hearth0', subnet: '10.213.0.0/24' }]);
    assert.equal(findNetworkClash(first, legacy), undefined);
    clash('name_taken', 'table')(findNetworkClash({ ...first, subnet: '10.215.0.0/24' }, legacy));
  });

  test('at init nothing is ours yet: even an identical network is refused', () => {
    clash('name_taken', 'table')(findNetworkClash({ bridge: 'hearth0', subnet: '10.213.0.0/24', table: 'hearth' }, host, { fresh: true }));
    assert.equal(findNetworkClash({ bridge: 'hearth1', subnet: '10.214.0.0/24', table: 'hearth_hearth1' }, host, { fresh: true }), undefined);
  });
});
