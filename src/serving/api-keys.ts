/** API keys (MLOPS_SERVE_API_KEYS): `Authorization: Bearer <key>`, compared in constant time. */
import { createHash, timingSafeEqual } from 'node:crypto';

/** The keys as the comparison takes them (digests: equal lengths, whatever each key's length). */
export const keyDigests = (keys: readonly string[]): Buffer[] => keys.map(digest);

const digest = (key: string): Buffer => createHash('sha256').update(key).digest();

/**
 * Why an Authorization header does not open the server, or undefined when it does. Compares digests in constant
 * time against every key (no early exit), so timing tells nothing about a key.
 */
export function checkKey(header: string | undefined, keys: readonly Buffer[]): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  if (!match) return header ? 'the Authorization header is not "Bearer <key>"' : 'no Authorization header';
  const given = digest(match[1]!);
  let ok = false;
  for (const key of keys) ok = timingSafeEqual(given, key) || ok;
  return ok ? undefined : "the key is not one of this server's keys";
}
