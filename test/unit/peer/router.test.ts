import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPeerRouter, type PeerRoute } from '../../../src/peer/router.js';

const handler: PeerRoute['handler'] = () => Promise.resolve({});
const routes: PeerRoute[] = [
  { method: 'GET', path: '/peer/v1/slivers', handler },
  { method: 'GET', path: '/peer/v1/slivers/:name', handler },
  { method: 'DELETE', path: '/peer/v1/slivers/:name', handler },
];

void describe('createPeerRouter', () => {
  const router = createPeerRouter(routes);

  void test('finds a route and decodes its params', () => {
    const found = router.match('GET', '/peer/v1/slivers/web%201');
    assert.equal(found.kind, 'found');
    assert.ok(found.kind === 'found');
    assert.equal(found.route, routes[1]);
    assert.deepEqual(found.params, { name: 'web 1' });
  });

  void test('a path served for other methods is 405 with the allowed ones', () => {
    assert.deepEqual(router.match('POST', '/peer/v1/slivers/a'), { kind: 'method_not_allowed', allow: ['GET', 'DELETE'] });
  });

  void test('an unknown path, an empty param, or a malformed escape is not found', () => {
    for (const path of ['/peer/v1/nodes', '/peer/v1/slivers/', '/peer/v1/slivers/%zz', '/peer/v1/slivers/a/b', '/']) {
      assert.deepEqual(router.match('GET', path), { kind: 'not_found' }, path);
    }
  });

  void test('two routes that match the same paths are refused at construction', () => {
    assert.throws(() => createPeerRouter([...routes, { method: 'GET', path: '/peer/v1/slivers/:id', handler }]), /duplicate/);
  });
});
