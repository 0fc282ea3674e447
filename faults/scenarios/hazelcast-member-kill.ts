import { need, type Fault } from './fault.js';

/**
 * SIGKILL of one of the two Hazelcast members: with backup-count 1 the other holds a backup of
 * every entry; with backup-count 0 (the contrast topology) the entries the dead member owned are gone.
 */
export const hazelcastMemberKill: Fault = {
  name: 'hazelcast-member-kill',
  title: 'SIGKILL of a Hazelcast member',
  appliesTo: ['store-hazelcast', 'store-hazelcast-no-backup'],
  async inject(t) {
    const member = need(t.hazelcast, 'Hazelcast cluster', t).members[1]!;
    await member.kill('SIGKILL');
    return { detail: `SIGKILL of the member :${member.port}` };
  },
  async restore(t) {
    const hz = need(t.hazelcast, 'Hazelcast cluster', t);
    await hz.members[1]!.restart();
    await hz.waitForSize(hz.members.length, 60_000);
    await t.waitAllUp();
  },
};
