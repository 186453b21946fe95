/**
 * Optional payload encryption: AES-256-GCM over each whole payload (its metadata and data), with the key's id in the
 * encrypted payload's metadata so keys can rotate. The first configured key encrypts; every configured key decrypts,
 * so an old key stays listed until no open history holds payloads written with it. Payloads that are not encrypted
 * (written before encryption was turned on) pass through decoding unchanged.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { mlopsError } from '../errors';

export const encryptedEncoding = 'binary/encrypted';
export const keyIdMetadata = 'encryption-key-id';

export interface PayloadKey {
  id: string;
  /** 32 bytes, base64. */
  key: string;
}

const ivBytes = 12;
const tagBytes = 16;
const text = new TextEncoder();
const utf8 = new TextDecoder();

export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly keys: Map<string, Uint8Array>;
  private readonly encryptingId: string;

  /** `keys[0]` encrypts. */
  constructor(keys: readonly PayloadKey[]) {
    if (keys.length === 0) throw new Error('AesGcmPayloadCodec needs at least one key');
    this.keys = new Map(keys.map((k) => [k.id, new Uint8Array(Buffer.from(k.key, 'base64'))]));
    this.encryptingId = keys[0]!.id;
  }

  encode(payloads: Payload[]): Promise<Payload[]> {
    const id = this.encryptingId;
    const key = this.keys.get(id)!;
    return Promise.resolve(
      payloads.map((payload) => ({
        metadata: { encoding: text.encode(encryptedEncoding), [keyIdMetadata]: text.encode(id) },
        data: encrypt(key, serialize(payload)),
      })),
    );
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.resolve().then(() => payloads.map((payload) => this.decodeOne(payload)));
  }

  private decodeOne(payload: Payload): Payload {
    if (utf8.decode(payload.metadata?.encoding ?? new Uint8Array()) !== encryptedEncoding) return payload;
    const id = utf8.decode(payload.metadata?.[keyIdMetadata] ?? new Uint8Array());
    const key = this.keys.get(id);
    if (!key) throw mlopsError('MLOPS_ERR_CODEC_KEY_UNKNOWN', { keyId: id, known: [...this.keys.keys()].join(', ') });
    return deserialize(decrypt(key, payload.data ?? new Uint8Array()));
  }
}

function encrypt(key: Uint8Array, plain: Uint8Array): Uint8Array {
  const iv = randomBytes(ivBytes);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

function decrypt(key: Uint8Array, sealed: Uint8Array): Uint8Array {
  const bytes = Buffer.from(sealed);
  const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, ivBytes));
  decipher.setAuthTag(bytes.subarray(bytes.length - tagBytes));
  return Buffer.concat([decipher.update(bytes.subarray(ivBytes, bytes.length - tagBytes)), decipher.final()]);
}

/** The payload as JSON with base64 bytes (the shape codec servers exchange), so no protobuf code is needed. */
function serialize(payload: Payload): Uint8Array {
  const metadata = Object.fromEntries(
    Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')]),
  );
  return text.encode(JSON.stringify({ metadata, data: Buffer.from(payload.data ?? []).toString('base64') }));
}

function deserialize(bytes: Uint8Array): Payload {
  const parsed = JSON.parse(utf8.decode(bytes)) as { metadata: Record<string, string>; data: string };
  const metadata = Object.fromEntries(
    Object.entries(parsed.metadata).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]),
  );
  return { metadata, data: new Uint8Array(Buffer.from(parsed.data, 'base64')) };
}

/** The data converter of every client and worker: the codec when keys are configured, else the SDK default. */
export function payloadDataConverter(keys: readonly PayloadKey[]): { payloadCodecs: PayloadCodec[] } | undefined {
  return keys.length > 0 ? { payloadCodecs: [new AesGcmPayloadCodec(keys)] } : undefined;
}
