import { expect } from 'chai';
import { ReconnectMode } from 'hazelcast-client';
import { ErrorCodes, StoreTimeoutError } from '@scaleout/core';
import { hazelcastStoreConfigSchema, type HazelcastStoreConfig } from '@scaleout/hazelcast';
import { clientConfig, describeTarget } from '../src/hazelcast-client.js';
import { toStoreError } from '../src/errors.js';

const config = (shape: Record<string, unknown>) => hazelcastStoreConfigSchema.parse({ type: 'hazelcast', members: ['10.0.0.1:5701'], ...shape }) as HazelcastStoreConfig;

describe('clientConfig', () => {
  it('fails fast: ASYNC reconnection that never gives up, invocations bounded by commandTimeout', () => {
    const c = clientConfig(config({ connectTimeout: 3000, commandTimeout: 1500, clusterName: 'prod' }));
    expect(c.clusterName).to.equal('prod');
    expect(c.connectionStrategy?.reconnectMode).to.equal(ReconnectMode.ASYNC);
    expect(c.connectionStrategy?.connectionRetry?.clusterConnectTimeoutMillis).to.equal(-1);
    expect(c.properties?.['hazelcast.client.invocation.timeout.millis']).to.equal(1500);
    expect(c.security).to.equal(undefined);
  });

  it('passes credentials only when given', () => {
    const c = clientConfig(config({ username: 'app', password: 'pw' }));
    expect(c.security?.usernamePassword).to.deep.equal({ username: 'app', password: 'pw' });
  });

  it('names the cluster and members, never the credentials', () => {
    expect(describeTarget(config({ clusterName: 'prod', members: ['a:1', 'b:2'], password: 'secret' }))).to.equal('Hazelcast cluster "prod" at a:1, b:2');
  });
});

describe('toStoreError (hazelcast)', () => {
  it('maps an invocation timeout to STORE_TIMEOUT and other failures to STORE_UNAVAILABLE', () => {
    class OperationTimeoutError extends Error {}
    class ClientOfflineError extends Error {}
    expect(toStoreError(new OperationTimeoutError('slow'), 'get', 900)).to.be.instanceOf(StoreTimeoutError);
    const offline = toStoreError(new ClientOfflineError('No connection found to cluster'), 'set', 900);
    expect(offline.code).to.equal(ErrorCodes.STORE_UNAVAILABLE);
    expect(offline.message).to.include('ClientOfflineError');
  });
});
