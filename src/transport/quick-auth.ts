/**
 * Two round trips less per connection (ADR 120). ssh2, like OpenSSH's client, spends a round
 * trip on each of these steps, and over a WAN every connection pays them:
 *
 * 1. It waits for SERVICE_ACCEPT (ssh-userauth) before sending the first USERAUTH_REQUEST.
 *    Nothing requires the wait: the server handles packets in order, so the request can
 *    follow the service request in the same flight (RFC 4253 section 10 only says the
 *    server answers one with the other).
 * 2. It asks whether the server would accept a key (a USERAUTH_REQUEST without signature,
 *    answered by PK_OK) before signing. For a private key file we hold, signing straight
 *    away is cheap and the server answers the signed request alone (RFC 4252 section 7
 *    allows sending the signature directly). Keys in an agent keep the query: the agent
 *    may ask its user to confirm each signature.
 *
 * Both reach into ssh2's protocol object, which has no public hooks for them; every hook is
 * feature-detected, so an ssh2 whose internals moved falls back to its own (slower) path
 * instead of failing. The exact ssh2 version is pinned in package.json, and
 * test/e2e/transport.test.ts checks the packet order these hooks produce.
 */
import type { Client } from 'ssh2';

interface KeyLike {
  type: string;
  isPrivateKey(): boolean;
  sign(data: Buffer, hash?: string): Buffer | Error;
}

type SignCallback = (data: Buffer, done: (signature: Buffer) => void) => void;

/** The parts of ssh2's (internal) Protocol object used here. */
interface ProtocolInternals {
  authPK(username: string, key: unknown, keyAlgo?: string | SignCallback, sign?: SignCallback): void;
  _handlers: Record<string, ((...args: unknown[]) => void) | undefined>;
}

/** The hash each public key algorithm signs with (RFC 8332 for RSA; the others imply one). */
function hashFor(keyAlgo: string | undefined): string | undefined {
  switch (keyAlgo) {
    case 'rsa-sha2-512':
      return 'sha512';
    case 'rsa-sha2-256':
      return 'sha256';
    case 'ssh-rsa':
      return 'sha1';
    default:
      return undefined;
  }
}

function isPrivateKey(key: unknown): key is KeyLike {
  const k = key as Partial<KeyLike> | null;
  return (
    typeof k === 'object' &&
    k !== null &&
    typeof k.sign === 'function' &&
    typeof k.isPrivateKey === 'function' &&
    k.isPrivateKey()
  );
}

function internals(client: Client): ProtocolInternals | undefined {
  const proto = (client as unknown as { _protocol?: Partial<ProtocolInternals> })._protocol;
  if (
    !proto ||
    typeof proto.authPK !== 'function' ||
    typeof proto._handlers !== 'object' ||
    proto._handlers === null ||
    typeof proto._handlers.SERVICE_ACCEPT !== 'function' ||
    typeof proto._handlers.EXT_INFO !== 'function'
  )
    return undefined;
  return proto as ProtocolInternals;
}

/**
 * Installs both shortcuts on `client`; call right after `client.connect()` (which creates the
 * protocol object) and before any data arrives. `log` hears when the ssh2 internals are not
 * the expected ones (the connection then works the ordinary way).
 */
export function useQuickAuth(client: Client, log: (msg: string) => void = () => undefined): void {
  const proto = internals(client);
  if (!proto) {
    log('ssh2 internals differ from the expected ones: authenticating without shortcuts');
    return;
  }
  const authPK = proto.authPK;
  proto.authPK = function signDirectly(this: ProtocolInternals, username, key, keyAlgo, sign) {
    if (sign === undefined && typeof keyAlgo !== 'function' && isPrivateKey(key)) {
      const hash = hashFor(keyAlgo ?? key.type);
      return authPK.call(this, username, key, keyAlgo, (data, done) => {
        const signature = key.sign(data, hash);
        // Send the query instead: ssh2 signs again after PK_OK and reports the failure.
        if (signature instanceof Error) authPK.call(this, username, key, keyAlgo);
        else done(signature);
      });
    }
    return authPK.call(this, username, key, keyAlgo, sign);
  };

  // Authentication starts once both happened: the handshake completed (ssh2 then sends
  // SERVICE_REQUEST) and EXT_INFO arrived, whose server-sig-algs ssh2 needs to pick an RSA
  // signature algorithm. The server sends EXT_INFO right after its NEWKEYS, so this is
  // either at once or within the same flight; a server that sends no EXT_INFO gets the
  // ordinary wait for SERVICE_ACCEPT.
  const serviceAccept = proto._handlers.SERVICE_ACCEPT!;
  const extInfo = proto._handlers.EXT_INFO!;
  let handshakeDone = false;
  let extInfoSeen = false;
  let started = false;
  const start = (): void => {
    if (started) return;
    started = true;
    serviceAccept(proto, 'ssh-userauth');
  };
  proto._handlers.EXT_INFO = (...args: unknown[]) => {
    extInfo(...args);
    extInfoSeen = true;
    if (handshakeDone) start();
  };
  client.once('handshake', () => {
    handshakeDone = true;
    // This runs inside ssh2's handshake-complete callback, just before it sends
    // SERVICE_REQUEST: start after that, never before.
    if (extInfoSeen) queueMicrotask(start);
  });
  proto._handlers.SERVICE_ACCEPT = (...args: unknown[]) => {
    if (started && args[1] === 'ssh-userauth') return; // authentication is under way
    started = true;
    serviceAccept(...args);
  };
}
