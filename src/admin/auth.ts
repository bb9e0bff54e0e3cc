/**
 * Bearer tokens with roles. Secrets come from environment variables or files (never from the
 * config file itself) and are compared in constant time: both sides are hashed to a fixed
 * length and compared with crypto.timingSafeEqual, and every configured token is checked, so
 * neither the length nor the position of a match leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Role, TokenSpec } from '../config/types.js';

export interface Principal {
  name: string;
  role: Role;
}

interface LoadedToken extends Principal {
  digest: Buffer;
}

export interface TokenLoad {
  tokens: TokenStore;
  /** Tokens that could not be loaded (unset variable, unreadable file): said at start-up. */
  warnings: string[];
}

const ROLE_RANK: Record<Role, number> = { viewer: 1, operator: 2 };

export function roleAllows(have: Role, need: Role): boolean {
  return ROLE_RANK[have] >= ROLE_RANK[need];
}

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

export class TokenStore {
  private constructor(private readonly tokens: readonly LoadedToken[]) {}

  static load(specs: readonly TokenSpec[], env: NodeJS.ProcessEnv = process.env): TokenLoad {
    const loaded: LoadedToken[] = [];
    const warnings: string[] = [];
    for (const spec of specs) {
      let secret: string | undefined;
      if (spec.token_env !== undefined) {
        secret = env[spec.token_env];
        if (!secret) warnings.push(`token "${spec.name}": environment variable ${spec.token_env} is not set; the token is disabled`);
      } else if (spec.token_file !== undefined) {
        try {
          secret = readFileSync(spec.token_file, 'utf8').trim();
          if (!secret) warnings.push(`token "${spec.name}": ${spec.token_file} is empty; the token is disabled`);
        } catch (err) {
          warnings.push(`token "${spec.name}": cannot read ${spec.token_file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); the token is disabled`);
        }
      }
      if (secret) {
        if (secret.length < 16) warnings.push(`token "${spec.name}" is shorter than 16 characters`);
        loaded.push({ name: spec.name, role: spec.role, digest: digest(secret) });
      }
    }
    return { tokens: new TokenStore(loaded), warnings };
  }

  get hasOperator(): boolean {
    return this.tokens.some((t) => t.role === 'operator');
  }

  /** The principal whose token is in an `Authorization: Bearer …` header, if any. */
  authenticate(header: string | undefined): Principal | undefined {
    if (header === undefined) return undefined;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) return undefined;
    const given = digest(m[1]!);
    let found: LoadedToken | undefined;
    for (const t of this.tokens) {
      if (timingSafeEqual(given, t.digest) && found === undefined) found = t;
    }
    return found && { name: found.name, role: found.role };
  }
}
