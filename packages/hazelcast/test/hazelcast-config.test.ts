import { expect } from 'chai';
import { DEFAULT_HAZELCAST_STORE_OPTIONS, DEFAULT_HAZELCAST_TRANSPORT_OPTIONS } from '../src/hazelcast-config.js';

describe('Hazelcast options', () => {
  it('have the defaults their schemas fill in, and only those', () => {
    expect(DEFAULT_HAZELCAST_STORE_OPTIONS).to.deep.equal({ ownsClient: false, commandTimeout: 2000, maxValueBytes: 1024 * 1024, pageSize: 1000 });
    expect(DEFAULT_HAZELCAST_TRANSPORT_OPTIONS).to.deep.equal({ clusterName: 'dev', topic: 'scaleout', connectTimeout: 10_000 });
    expect(Object.isFrozen(DEFAULT_HAZELCAST_STORE_OPTIONS)).to.equal(true);
  });
});
