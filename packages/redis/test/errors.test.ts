import { expect } from 'chai';
import { ErrorCodes, InvalidArgumentError, isUnavailable, StoreTimeoutError, StoreUnavailableError } from '@scaleout/core';
import { ReplicaAckError, toStoreError } from '../src/errors.js';

describe('toStoreError', () => {
  it('turns an ioredis command timeout into STORE_TIMEOUT with the operation and deadline', () => {
    const err = toStoreError(new Error('Command timed out'), 'get', 750);
    expect(err).to.be.instanceOf(StoreTimeoutError);
    expect(err.code).to.equal(ErrorCodes.STORE_TIMEOUT);
    expect(err.message).to.include('get').and.include('750 ms');
  });

  it('turns every other backend failure into STORE_UNAVAILABLE, keeping the cause', () => {
    for (const message of ["Stream isn't writeable and enableOfflineQueue options is false", 'connect ECONNREFUSED 127.0.0.1:6379', 'CLUSTERDOWN The cluster is down', 'READONLY You can\'t write against a read only replica.', 'LOADING Redis is loading the dataset in memory']) {
      const cause = new Error(message);
      const err = toStoreError(cause, 'set', 1000);
      expect(err, message).to.be.instanceOf(StoreUnavailableError);
      expect(isUnavailable(err)).to.equal(true);
      expect(err.cause).to.equal(cause);
    }
    expect(toStoreError('a string', 'set', 1).code).to.equal(ErrorCodes.STORE_UNAVAILABLE);
  });

  it('passes scaleout errors through unchanged', () => {
    const own = new InvalidArgumentError('id', 'bad id');
    expect(toStoreError(own, 'get', 1)).to.equal(own);
  });
});

describe('ReplicaAckError', () => {
  it('is a 503-class error that says how many replicas confirmed', () => {
    const err = new ReplicaAckError('set', 0, 2, 500);
    expect(err.code).to.equal(ErrorCodes.STORE_UNAVAILABLE);
    expect(isUnavailable(err)).to.equal(true);
    expect(err.message).to.equal('session store set: 0 of 2 required replica(s) confirmed the write within 500 ms');
    expect([err.acknowledged, err.required]).to.deep.equal([0, 2]);
  });
});
