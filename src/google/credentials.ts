/**
 * Credentials of the Google Cloud clients, built once per process (src/dependencies.ts) and checked once before the
 * first step that needs them, so a missing or unusable credential fails that step with a catalogued error instead of
 * an unauthenticated request. Against an emulator (an endpoint setting naming a host outside googleapis.com, and no
 * GOOGLE_APPLICATION_CREDENTIALS) the clients send a fixed token, which the emulators ignore (docs/datasets.md,
 * "Emulators").
 */
import type { AuthClient } from 'google-auth-library';
import { GoogleAuth, OAuth2Client } from 'google-auth-library';
import { isMlopsError, mlopsError } from '../errors';

/** The bearer token sent to an emulator; bigquery-emulator and fake-gcs-server accept any. */
export const emulatorToken = 'emulator';

export interface CredentialSettings {
  /** The API endpoint setting of the service (e.g. MLOPS_BIGQUERY_API_ENDPOINT); absent means Google's. */
  apiEndpoint?: string;
  /** GOOGLE_APPLICATION_CREDENTIALS: a service account key file; absent means the other Application Default Credentials. */
  credentialsFile?: string;
  /** OAuth scopes the client needs. */
  scopes: string[];
}

/** The scopes of the BigQuery client (@google-cloud/bigquery asks for the same). */
export const bigQueryScopes = [
  'https://www.googleapis.com/auth/bigquery',
  'https://www.googleapis.com/auth/cloud-platform',
];

/** True for an endpoint that is not one of Google's hosts: an emulator or a local fake. */
export function isEmulatorEndpoint(apiEndpoint: string | undefined): boolean {
  if (!apiEndpoint) return false;
  const host = new URL(/^[a-z]+:\/\//i.test(apiEndpoint) ? apiEndpoint : `https://${apiEndpoint}`).hostname;
  return host !== 'googleapis.com' && !host.endsWith('.googleapis.com');
}

/**
 * The auth client of one service: a fixed token against an emulator without a credentials file, else Application
 * Default Credentials (the key file GOOGLE_APPLICATION_CREDENTIALS names, gcloud's login, or the metadata server).
 */
export function googleAuth(settings: CredentialSettings): AuthClient {
  if (isEmulatorEndpoint(settings.apiEndpoint) && !settings.credentialsFile) {
    const client = new OAuth2Client();
    // No refresh: the token never expires, so the client never asks Google for another.
    client.setCredentials({ access_token: emulatorToken, expiry_date: Number.MAX_SAFE_INTEGER });
    return client;
  }
  const auth = new GoogleAuth({ scopes: settings.scopes, keyFilename: settings.credentialsFile });
  if (settings.credentialsFile) keyFiles.set(auth, settings.credentialsFile);
  // The clients take a GoogleAuth as is (@google-cloud/common util.js, makeAuthenticatedRequestFactory), though
  // their option's type names only AuthClient.
  return auth as unknown as AuthClient;
}

/** The key file each auth client of {@link googleAuth} reads, for messages. */
const keyFiles = new WeakMap<object, string>();

/** Node's codes for a request that got no answer; file errors (ENOENT, EACCES) are not among them. */
const networkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

const checked = new WeakMap<object, Promise<void>>();

/**
 * Asks `auth` for a token once per process (a failed check is asked again next time): a missing or unusable
 * credential becomes a catalogued, non-retryable error naming `service`; a network failure while fetching the token
 * stays a plain Error, which Temporal retries. Does nothing without an auth client (one given in code by a test).
 */
export function checkCredentials(service: string, auth: AuthClient | GoogleAuth | undefined): Promise<void> {
  if (!auth) return Promise.resolve();
  let check = checked.get(auth);
  if (!check) {
    check = auth.getAccessToken().then(
      () => undefined,
      (err: unknown) => {
        checked.delete(auth);
        throw credentialFailure(service, err, keyFiles.get(auth));
      },
    );
    checked.set(auth, check);
  }
  return check;
}

/** A failure of google-auth-library as a catalogued error where retrying cannot help. */
export function credentialFailure(service: string, err: unknown, credentialsFile?: string): Error {
  if (isMlopsError(err)) return err;
  const e = err as { message?: unknown; response?: { status?: unknown }; code?: unknown };
  const message = typeof e.message === 'string' ? e.message.split('\n')[0]! : String(err);
  if (message.includes('Could not load the default credentials'))
    return mlopsError('MLOPS_ERR_GCP_CREDENTIALS_MISSING', { service, reason: message });
  // No answer at all (DNS, refused, reset): the token endpoint or metadata server may come back.
  const answered = typeof e.response?.status === 'number';
  if (!answered && typeof e.code === 'string' && networkCodes.has(e.code))
    return new Error(`Google Cloud credentials for ${service} could not be fetched (retryable): ${message}`);
  if (answered && Number(e.response!.status) >= 500)
    return new Error(`Google Cloud credentials for ${service} could not be fetched (retryable): ${message}`);
  return mlopsError('MLOPS_ERR_GCP_CREDENTIALS_INVALID', {
    service,
    source: credentialsFile
      ? `the key file ${credentialsFile} (GOOGLE_APPLICATION_CREDENTIALS)`
      : 'Application Default Credentials',
    reason: message,
  });
}
