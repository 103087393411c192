/**
 * DingTalk HTTP callback crypto (docs/dingtalk-protocol.md §5–§8), written from the protocol
 * description with node:crypto only.
 *
 *   signature = hex(sha1(sort([token, timestamp, nonce, encrypt]).join("")))
 *   encrypt   = base64(AES-256-CBC(key, iv = key[0..16),
 *                 pkcs7_32(random16 | uint32be(len(msg)) | msg | receiveId)))
 *
 * Validation runs in the strict order of §7 so that each bad input fails at exactly one,
 * well-named step, and nothing about the ciphertext is looked at before the signature holds.
 */
import * as nodeCrypto from 'node:crypto';
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Stable error codes: logs, HTTP error bodies and tests depend on them. */
export type CipherErrorCode =
  | 'bad-signature'
  | 'bad-ciphertext'
  | 'bad-padding'
  | 'bad-length'
  | 'receive-id-mismatch'
  | 'bad-utf8'
  | 'bad-aes-key'
  | 'bad-token';

export class CipherError extends Error {
  readonly code: CipherErrorCode;
  /** For receive-id-mismatch: the id found in the plaintext, so the configuration can be fixed. */
  readonly found?: string;

  constructor(code: CipherErrorCode, message: string, found?: string) {
    super(message);
    this.name = 'CipherError';
    this.code = code;
    if (found !== undefined) this.found = found;
  }
}

/** The receive id DingTalk uses for `check_create_suite_url` before an ISV suite has a key. */
export const SUITE_PLACEHOLDER_RECEIVE_ID = 'suite4xxxxxxxxxxxxxxx';

/** DingTalk's encoders pad to 32-byte blocks (Java BLOCK_SIZE = 32). */
const PAD_BLOCK = 32;
const RANDOM_PREFIX_BYTES = 16;
const HEADER_BYTES = RANDOM_PREFIX_BYTES + 4;
const AES_KEY_PATTERN = /^[A-Za-z0-9+/]{43}$/;
const TOKEN_PATTERN = /^[\x21-\x7e]{1,64}$/;
const SIGNATURE_PATTERN = /^[0-9a-f]{40}$/;
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Why an aesKey is unusable, or undefined when it is fine (43 base64 characters, §3). */
export function aesKeyProblem(aesKey: unknown): string | undefined {
  if (typeof aesKey !== 'string' || aesKey.length === 0) return 'aesKey is missing';
  if (aesKey.length !== 43) return `aesKey must be 43 characters, got ${aesKey.length}`;
  if (!AES_KEY_PATTERN.test(aesKey)) return 'aesKey may contain only letters, digits, + and /';
  return undefined;
}

/** Why a token is unusable (1–64 printable ASCII, §3), or undefined when it is fine. */
export function tokenProblem(token: unknown): string | undefined {
  if (typeof token !== 'string' || token.length === 0) return 'token is missing';
  if (!TOKEN_PATTERN.test(token)) return 'token must be 1 to 64 printable ASCII characters without spaces';
  return undefined;
}

/** The console accepts 3–32 letters or digits; other tokens work through the API but deserve a warning. */
export function tokenIsConsoleCompatible(token: string): boolean {
  return /^[A-Za-z0-9]{3,32}$/.test(token);
}

// Every reply needs 32 random characters (prefix and nonce): drawing them from a pool refilled 4 KiB at
// a time instead of asking the CSPRNG twice per reply halves the cost of sealing a reply.
let pool = Buffer.alloc(0);
let poolOffset = 0;

function randomByte(): number {
  if (poolOffset >= pool.length) {
    pool = randomBytes(4096);
    poolOffset = 0;
  }
  return pool[poolOffset++];
}

/** Random alphanumeric string (token, nonce, aesKey all use this alphabet, like the console's generator). */
export function randomAlphanumeric(length: number): string {
  // 62 symbols: reject bytes >= 248 (= 4 * 62) so every symbol is equally likely.
  let out = '';
  while (out.length < length) {
    const byte = randomByte();
    if (byte < 248) out += ALPHANUMERIC[byte % 62];
  }
  return out;
}

export const generateAesKey = (): string => randomAlphanumeric(43);
export const generateToken = (): string => randomAlphanumeric(32);

/**
 * The AES key: base64 of the 43 characters plus "=". Node's decoder drops the two leftover bits
 * of the 43rd character, which many real keys have set (§6), exactly as DingTalk does.
 */
export function decodeAesKey(aesKey: string): Buffer {
  const problem = aesKeyProblem(aesKey);
  if (problem) throw new CipherError('bad-aes-key', problem);
  return Buffer.from(aesKey + '=', 'base64');
}

/** §5: lower-case hex SHA-1 of the four strings sorted by code unit and joined. */
export function sign(token: string, timestamp: string, nonce: string, encrypt: string): string {
  const parts = [token, timestamp, nonce, encrypt].sort();
  return sha1Hex(parts[0] + parts[1] + parts[2] + parts[3]);
}

// Node's one-shot hash (20.12 and later) skips the Hash object a push would otherwise build twice.
const oneShotHash = (nodeCrypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;
const sha1Hex: (text: string) => string = typeof oneShotHash === 'function'
  ? (text) => oneShotHash('sha1', text, 'hex')
  : (text) => createHash('sha1').update(text, 'utf8').digest('hex');

/** Constant-time comparison; anything that is not 40 lower-case hex digits never matches (N02). */
export function signatureMatches(expected: string, given: unknown): boolean {
  if (typeof given !== 'string' || !SIGNATURE_PATTERN.test(given)) return false;
  return timingSafeEqual(Buffer.from(expected, 'latin1'), Buffer.from(given, 'latin1'));
}

export interface CipherOptions {
  token: string;
  aesKey: string;
  /** The id the plaintext must end with: appKey, corpId or suiteKey depending on the app style (§4). */
  receiveId: string;
}

export interface Decrypted {
  /** The decrypted message, strict UTF-8. */
  plaintext: string;
  /** The receive id found at the end of the plaintext (equal to an accepted one). */
  receiveId: string;
}

export interface SignedEnvelope {
  msg_signature: string;
  timeStamp: string;
  nonce: string;
  encrypt: string;
}

export interface SignedRequest {
  signature: unknown;
  timestamp: unknown;
  nonce: unknown;
  encrypt: unknown;
}

/** One DingTalk app's callback crypto. Construction validates the configuration (N17 fails here). */
export class DingTalkCipher {
  readonly token: string;
  readonly receiveId: string;
  private readonly receiveIdBytes: Buffer;
  private readonly key: Buffer;
  private readonly iv: Buffer;
  /**
   * CBC decryption is a block decryption of each ciphertext block XORed with the block before it (the
   * IV for the first). One AES-256-ECB context, kept for the app's lifetime, decrypts every block of
   * every push; a CBC context would have to be created, with its key schedule, for each push.
   */
  private readonly blockDecipher: nodeCrypto.Decipher;

  constructor(options: CipherOptions) {
    const tokenIssue = tokenProblem(options.token);
    if (tokenIssue) throw new CipherError('bad-token', tokenIssue);
    this.key = decodeAesKey(options.aesKey);
    this.iv = this.key.subarray(0, 16);
    this.blockDecipher = createDecipheriv('aes-256-ecb', this.key, null);
    this.blockDecipher.setAutoPadding(false); // whole blocks in, the same number out, nothing held back
    this.token = options.token;
    this.receiveId = options.receiveId;
    this.receiveIdBytes = Buffer.from(options.receiveId, 'utf8');
  }

  sign(timestamp: string, nonce: string, encrypt: string): string {
    return sign(this.token, timestamp, nonce, encrypt);
  }

  /** Throws bad-signature unless `signature` is the signature of the other three values. */
  verify(signature: unknown, timestamp: string, nonce: string, encrypt: string): void {
    if (!signatureMatches(this.sign(timestamp, nonce, encrypt), signature)) {
      throw new CipherError('bad-signature', 'signature does not match (check the token)');
    }
  }

  /**
   * §6 encryption. `randomPrefix` (16 bytes) is for reproducing vectors; by default it is 16 random
   * alphanumerics, as DingTalk's own encoders use. `receiveId` defaults to the configured one.
   */
  encrypt(plaintext: string, options: { randomPrefix?: Buffer; receiveId?: string } = {}): string {
    const random = options.randomPrefix ?? Buffer.from(randomAlphanumeric(RANDOM_PREFIX_BYTES), 'latin1');
    if (random.length !== RANDOM_PREFIX_BYTES) throw new RangeError('randomPrefix must be 16 bytes');
    const id = options.receiveId ?? this.receiveId;
    // One buffer, written in place: random | length | message | receive id | padding.
    const msgLength = Buffer.byteLength(plaintext, 'utf8');
    const bodyLength = HEADER_BYTES + msgLength + Buffer.byteLength(id, 'utf8');
    const pad = PAD_BLOCK - (bodyLength % PAD_BLOCK);
    const padded = Buffer.allocUnsafe(bodyLength + pad);
    random.copy(padded, 0);
    padded.writeUInt32BE(msgLength, RANDOM_PREFIX_BYTES);
    padded.write(plaintext, HEADER_BYTES, 'utf8');
    padded.write(id, HEADER_BYTES + msgLength, 'utf8');
    padded.fill(pad, bodyLength);
    const cipher = createCipheriv('aes-256-cbc', this.key, this.iv);
    cipher.setAutoPadding(false);
    // Without padding, update() returns every (whole) block and final() nothing.
    return cipher.update(padded).toString('base64');
  }

  /**
   * §7 steps 2–7: decode, decrypt, strip PKCS#7 (any pad 1..32, all bytes equal), check the length
   * field, compare the receive id exactly, decode strict UTF-8. `acceptedIds` defaults to the
   * configured receive id; the receiver widens it only for ISV URL checks.
   */
  decrypt(encrypt: string, acceptedIds?: readonly string[]): Decrypted {
    if (typeof encrypt !== 'string' || encrypt.length === 0 || encrypt.length % 4 !== 0) {
      throw new CipherError('bad-ciphertext', 'encrypt is not valid base64');
    }
    // Node's decoder skips what is not base64 and also takes the URL-safe alphabet; only text that
    // encodes back to itself is standard, padded base64 (as every DingTalk encoder writes it). This
    // round trip costs less than a pattern over the whole text.
    const data = Buffer.from(encrypt, 'base64');
    if (data.toString('base64') !== encrypt) throw new CipherError('bad-ciphertext', 'encrypt is not valid base64');
    // Whole blocks only: a partial block would also stay behind in the shared context (blockDecipher)
    // and corrupt the next push's first block.
    if (data.length === 0 || data.length % 16 !== 0) {
      throw new CipherError('bad-ciphertext', `ciphertext length ${data.length} is not a non-empty multiple of 16`);
    }
    const padded = this.cbcDecrypt(data);

    const pad = padded[padded.length - 1];
    if (pad < 1 || pad > PAD_BLOCK || pad > padded.length) {
      throw new CipherError('bad-padding', `invalid padding byte ${pad} (check the aesKey)`);
    }
    for (let i = padded.length - pad; i < padded.length; i++) {
      if (padded[i] !== pad) throw new CipherError('bad-padding', 'inconsistent padding bytes (check the aesKey)');
    }
    const plain = padded.subarray(0, padded.length - pad);

    if (plain.length < HEADER_BYTES) {
      throw new CipherError('bad-length', `plaintext of ${plain.length} bytes is shorter than its header`);
    }
    const msgLength = plain.readUInt32BE(RANDOM_PREFIX_BYTES);
    if (HEADER_BYTES + msgLength > plain.length) {
      throw new CipherError('bad-length', `length field ${msgLength} exceeds the ${plain.length - HEADER_BYTES} bytes present`);
    }
    const msg = plain.subarray(HEADER_BYTES, HEADER_BYTES + msgLength);
    const idBytes = plain.subarray(HEADER_BYTES + msgLength);
    const match = acceptedIds === undefined
      ? (idBytes.equals(this.receiveIdBytes) ? this.receiveId : undefined)
      : acceptedIds.find((id) => idBytes.equals(id === this.receiveId ? this.receiveIdBytes : Buffer.from(id, 'utf8')));
    if (match === undefined) {
      const found = printable(idBytes.toString('utf8'));
      throw new CipherError('receive-id-mismatch', `receive id in the message is "${found}", expected "${(acceptedIds ?? [this.receiveId]).join('" or "')}"`, found);
    }
    let plaintext: string;
    try {
      plaintext = utf8.decode(msg);
    } catch {
      throw new CipherError('bad-utf8', 'decrypted message is not valid UTF-8');
    }
    return { plaintext, receiveId: match };
  }

  /** AES-256-CBC decryption of whole blocks (checked by the caller) with the app's key and IV. */
  private cbcDecrypt(data: Buffer): Buffer {
    const plain = this.blockDecipher.update(data);
    // From the last block back, so each XOR still reads the untouched ciphertext block before it.
    for (let i = plain.length - 1; i >= 16; i--) plain[i] ^= data[i - 16];
    for (let i = 0; i < 16; i++) plain[i] ^= this.iv[i];
    return plain;
  }

  /** §7 in full: verify the signature first, then decrypt. */
  open(request: SignedRequest, acceptedIds?: readonly string[]): Decrypted {
    const { signature, timestamp, nonce, encrypt } = request;
    if (typeof timestamp !== 'string' || typeof nonce !== 'string' || typeof encrypt !== 'string') {
      throw new CipherError('bad-signature', 'timestamp, nonce and encrypt must be strings');
    }
    this.verify(signature, timestamp, nonce, encrypt);
    return this.decrypt(encrypt, acceptedIds);
  }

  /**
   * §8: the JSON body that acknowledges a push: `message` (normally "success") encrypted for
   * `receiveId` (the id the request carried), signed with a fresh ms timestamp and 16-char nonce.
   */
  seal(message: string, receiveId: string = this.receiveId, now: number = Date.now()): SignedEnvelope {
    const timeStamp = String(now);
    const nonce = randomAlphanumeric(16);
    const encrypt = this.encrypt(message, { receiveId });
    return { msg_signature: this.sign(timeStamp, nonce, encrypt), timeStamp, nonce, encrypt };
  }
}

/** Keep log lines readable when a wrong key turns the receive id into binary noise. */
function printable(text: string): string {
  const clean = text.replace(/[^\x20-\x7e\u4e00-\u9fff]/g, '?');
  return clean.length > 64 ? clean.slice(0, 64) + '…' : clean;
}
