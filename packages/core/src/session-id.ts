import { randomBytes } from 'node:crypto';

/** Bytes of randomness in a session id: 144 bits, above the 128-bit floor (OWASP). */
export const SESSION_ID_BYTES = 18;

/** A new session id: 144 bits from the OS's CSPRNG, base64url (24 characters). */
export function generateSessionId(): string {
  return randomBytes(SESSION_ID_BYTES).toString('base64url');
}
